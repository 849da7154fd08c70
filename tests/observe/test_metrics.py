"""/metrics: who may read it, what it counts, and that no label carries an id."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from postex.accounts.app.auth import Role
from postex.bootstrap import Container
from postex.http import metrics
from postex.server import create_app
from tests.factories import Caller, item_payload, new_customer, new_items
from tests.incidents.incident_helpers import accept_items, bearer
from tests.incidents.incident_helpers import staff as incident_staff


def scrape(client: TestClient, **headers: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    return sum(
        v for ls, v in samples.get(name, []) if all(ls.get(k) == x for k, x in labels.items())
    )


def test_requests_events_and_database_gauges_are_counted(
    node: Container, client: TestClient, alice: Caller
) -> None:
    before = scrape(client)
    route = "/api/v1/items/{item_id}"
    r = client.post("/api/v1/items", json=item_payload(), headers=alice.headers)
    assert r.status_code == 201, r.text
    item_id = r.json()["id"]
    assert client.get(f"/api/v1/items/{item_id}", headers=alice.headers).status_code == 200
    assert client.get("/api/v1/items/XX000000000GB", headers=alice.headers).status_code == 422
    after = scrape(client)
    for status in ("200", "422"):
        grew = value(after, "postex_http_requests_total", route=route, status=status) - value(
            before, "postex_http_requests_total", route=route, status=status
        )
        assert grew == 1, status
    assert value(after, "postex_http_request_duration_seconds_count", route=route) >= 2
    appended = value(after, "postex_events_appended_total", site="GBLALA") - value(
        before, "postex_events_appended_total", site="GBLALA"
    )
    assert appended >= 1
    assert value(after, "postex_commit_seconds_count") > value(
        before, "postex_commit_seconds_count"
    )
    assert value(after, "postex_db_up") == 1
    assert value(after, "postex_holds_active") == 0
    assert value(after, "postex_webhook_deliveries", state="pending") == 0
    assert value(after, "postex_integrity_alarms_open", site="GBLALA") == 0
    assert value(after, "postex_log_head_seq", site="GBLALA") >= 1
    assert "process_cpu_seconds_total" in after
    # No label value holds an item id, a customer id or a path with one.
    text = client.get("/metrics").text
    assert item_id not in text and alice.id not in text
    assert not re.search(r'route="[^"{]*\d{6,}', text)


def test_unknown_paths_share_one_label(client: TestClient) -> None:
    for n in range(3):
        assert client.get(f"/no/such/page/{n}").status_code == 404
    text = client.get("/metrics").text
    assert "/no/such/page" not in text
    assert 'route="unmatched"' in text


def test_refusals_and_replays_are_counted(
    node: Container, client: TestClient, alice: Caller
) -> None:
    before = scrape(client)
    headers = {**alice.headers, "Idempotency-Key": "obs-test-1"}
    body = item_payload()
    assert client.post("/api/v1/items", json=body, headers=headers).status_code == 201
    again = client.post("/api/v1/items", json=body, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    after = scrape(client)
    assert (
        value(after, "postex_idempotent_replays_total")
        - value(before, "postex_idempotent_replays_total")
        == 1
    )


@pytest.mark.node(metrics_token="s3cret-metrics-token")
def test_a_token_guards_metrics_when_set(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
    assert ok.status_code == 200 and "postex_http_requests_total" in ok.text


def test_without_a_token_only_a_direct_loopback_client_reads_metrics(node: Container) -> None:
    app = create_app(node)
    with TestClient(app, client=("203.0.113.9", 5000)) as far:
        assert far.get("/metrics").status_code == 404
    with TestClient(app, client=("127.0.0.1", 5000)) as near:
        assert near.get("/metrics").status_code == 200
        proxied = near.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 404


@pytest.mark.node(metrics=False)
def test_metrics_can_be_turned_off(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_holds_and_held_items_are_gauged(node: Container, client: TestClient) -> None:
    _, token = incident_staff(node, "usr_sup", Role.SUPERVISOR, site="GBLALA")
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    accept_items(node, [item.id])
    hold = {"scope": {"sites": ["GBLALA"]}, "reason": "power cut", "advisory": "Paused."}
    r = client.post("/api/v1/holds", headers=bearer(token), json=hold)
    assert r.status_code == 201, r.text
    after = scrape(client)
    assert value(after, "postex_holds_active") == 1
    assert value(after, "postex_held_items", site="GBLALA") == 1
    assert value(after, "postex_hold_oldest_active_seconds") >= 0


def test_an_unreadable_database_is_a_gauge_not_a_failed_scrape(
    node: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = metrics.DatabaseCollector(node)

    def down(*_args: object) -> list[object]:
        raise OSError("database unreachable")

    monkeypatch.setattr(collector, "_rows", down)
    [up] = list(collector.collect())
    assert (up.name, up.samples[0].value) == ("postex_db_up", 0)


@pytest.mark.node(public_rate=1, public_burst=2)
def test_rate_limit_refusals_are_counted(node: Container, client: TestClient) -> None:
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    before = scrape(client)
    statuses = [client.get(f"/api/v1/tracking/{item.id}").status_code for _ in range(5)]
    assert 429 in statuses
    after = scrape(client)
    route = "/api/v1/tracking/{item_id}"
    grew = value(after, "postex_rate_limited_total", route=route) - value(
        before, "postex_rate_limited_total", route=route
    )
    assert grew == statuses.count(429)
