"""Failover over HTTP: two operations leads ask and confirm; bad input gets problem+json
naming field, rule and value, and writes nothing; a failback ends it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.sites.app.acceptance import Scan, accept
from tests.factories import make_caller, new_items, staff

LOST, SURVIVOR = "GBLALA", "GBLGWA"
ASK = {"from_site": LOST, "to_site": SURVIVOR, "reason": "ransomware at Heathrow"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def leads(node: Container) -> dict[str, dict[str, str]]:
    return {
        "one": _auth(staff(node, "ops", None, "ops.one").token),
        "two": _auth(staff(node, "ops", None, "ops.two").token),
        "clerk": _auth(staff(node, "clerk", LOST, "clerk.heathrow").token),
        "auditor": _auth(staff(node, "auditor", None, "aud.one").token),
    }


@pytest.mark.parametrize(
    ("body", "status", "field", "rule"),
    [
        ({**ASK, "from_site": "ZZZZZZ"}, 422, "from_site", "unknown_site"),
        ({**ASK, "to_site": LOST}, 422, "to_site", "same_site"),
        ({**ASK, "reason": "x"}, 422, "reason", "min_length"),
        ([1, 2], 422, "body", "dict_type"),
    ],
)
def test_bad_failover_requests_are_problems(
    node: Container, client: TestClient, leads: dict[str, dict[str, str]],
    body: Any, status: int, field: str, rule: str,
) -> None:  # fmt: skip
    head = node.store.head(node.ctx.site)
    r = client.post("/api/v1/failovers", json=body, headers=leads["one"])
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert (problem["errors"][0]["field"], problem["errors"][0]["rule"]) == (field, rule)
    assert node.store.head(node.ctx.site) == head


def test_failover_confirm_and_failback_over_http(
    node: Container, client: TestClient, leads: dict[str, dict[str, str]]
) -> None:
    assert client.post("/api/v1/failovers", json=ASK, headers=leads["clerk"]).status_code == 403
    assert client.post("/api/v1/failovers", json=ASK).status_code == 401
    caller = make_caller(node, "api customer")
    item = new_items(node, caller.id, 1)[0]
    sup = staff(node, "supervisor", LOST, "sup.heathrow")
    accept(node.site_ops, sup.principal, LOST, [Scan(item.id, item.weight_g)])

    asked = client.post("/api/v1/failovers", json=ASK, headers=leads["one"])
    assert asked.status_code == 201, asked.text
    fid = asked.json()["id"]
    assert asked.json()["status"] == "pending"
    again = client.post("/api/v1/failovers", json=ASK, headers=leads["two"])
    assert (again.status_code, again.json()["rule"]) == (409, "request_pending")
    same = client.post(f"/api/v1/failovers/{fid}/confirm", headers=leads["one"])
    assert (same.status_code, same.json()["rule"]) == (403, "two_person")
    wrong = client.post(f"/api/v1/failbacks/{fid}/confirm", headers=leads["two"])
    assert wrong.status_code == 404
    done = client.post(f"/api/v1/failovers/{fid}/confirm", headers=leads["two"])
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["items_moved"]) == ("active", 1)
    twice = client.post(f"/api/v1/failovers/{fid}/confirm", headers=leads["one"])
    assert (twice.status_code, twice.json()["rule"]) == (409, "already_confirmed")
    over = client.post("/api/v1/failovers", json=ASK, headers=leads["one"])
    assert (over.status_code, over.json()["rule"], over.json()["value"]) == (
        409, "already_failed_over", LOST)  # fmt: skip
    chain = {"from_site": "GBCVTA", "to_site": LOST, "reason": "flooded"}
    lost = client.post("/api/v1/failovers", json=chain, headers=leads["one"])
    assert (lost.status_code, lost.json()["rule"]) == (409, "survivor_failed_over")
    listed = client.get("/api/v1/failovers", headers=leads["auditor"])
    assert [f["id"] for f in listed.json()] == [fid]
    assert client.get("/api/v1/failovers/fov_nope", headers=leads["auditor"]).status_code == 404

    back = client.post("/api/v1/failbacks", json={"site": LOST, "reason": "restored"},
                       headers=leads["two"])  # fmt: skip
    assert back.status_code == 201, back.text
    ok = client.post(f"/api/v1/failbacks/{back.json()['id']}/confirm", headers=leads["one"])
    assert (ok.status_code, ok.json()["status"]) == (200, "done")
    ended = client.get(f"/api/v1/failovers/{fid}", headers=leads["auditor"]).json()
    assert ended["status"] == "ended"
    none = client.post("/api/v1/failbacks", json={"site": LOST, "reason": "again"},
                       headers=leads["two"])  # fmt: skip
    assert (none.status_code, none.json()["rule"], none.json()["field"]) == (
        409, "not_failed_over", "site")  # fmt: skip
