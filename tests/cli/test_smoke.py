"""End-to-end smoke: a node serves health and public tracking on both stores."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postex.bootstrap import Container
from tests.factories import new_customer, new_items


def test_healthz_and_readyz_answer(client: TestClient) -> None:
    """The liveness and readiness probes answer 200 on a fresh node."""
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_public_tracking_shows_a_pre_advised_item(node: Container, client: TestClient) -> None:
    """A pre-advised item is publicly trackable with its PRE event and destination."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    body = client.get(f"/api/v1/tracking/{item.id}").json()
    assert body["id"] == item.id
    assert body["status"] == "pre_advised"
    assert body["destination_country"] == "US"
    assert [e["code"] for e in body["events"]] == ["PRE"]


def test_malformed_id_is_a_problem_naming_the_rule(client: TestClient) -> None:
    """A wrong check digit gives 422 problem+json naming field, rule and value."""
    r = client.get("/api/v1/tracking/RB123456786US")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["field"], body["rule"], body["value"]) == ("id", "check_digit", "RB123456786US")


def test_unknown_valid_id_is_not_found(client: TestClient) -> None:
    """A well-formed id that no item carries is a 404 problem."""
    r = client.get("/api/v1/tracking/RB123456785GB")
    assert r.status_code == 404
    assert r.json()["type"].endswith("not-found")
