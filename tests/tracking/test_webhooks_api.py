"""Webhook subscriptions: ownership, URL safety, failing state, redelivery, backoff."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.tracking.app.webhooks import FAILING_AFTER, MAX_ATTEMPTS, backoff, deliver_due
from tests.factories import ManualClock, new_customer, new_items
from tests.tracking.conftest import Receiver, auth, partner_key

EVENT = {"event_code": "EMD", "occurred_at": "2026-11-03T15:22:00-05:00", "office": "USJFKA"}


def test_backoff_makes_at_least_ten_attempts_over_a_day() -> None:
    """The retry schedule spans at least 24 hours with at least 10 attempts."""
    assert MAX_ATTEMPTS >= 10
    total = sum((backoff(n) for n in range(1, MAX_ATTEMPTS)), timedelta())
    assert total >= timedelta(hours=24)
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (1, 2, 4)]


def test_another_customers_webhook_is_not_found(node: Container, client: TestClient) -> None:
    """A customer cannot read, list or delete another customer's subscription."""
    a, b = new_customer(node, "A Ltd"), new_customer(node, "B Ltd")
    made = client.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=auth(a.api_key)
    ).json()
    assert "secret" in made
    assert client.get(f"/api/v1/webhooks/{made['id']}", headers=auth(b.api_key)).status_code == 404
    assert (
        client.delete(f"/api/v1/webhooks/{made['id']}", headers=auth(b.api_key)).status_code == 404
    )
    assert client.get("/api/v1/webhooks", headers=auth(b.api_key)).json() == {"webhooks": []}
    listed = client.get("/api/v1/webhooks", headers=auth(a.api_key)).json()["webhooks"]
    assert [w["id"] for w in listed] == [made["id"]]
    assert "secret" not in listed[0]
    assert (
        client.delete(f"/api/v1/webhooks/{made['id']}", headers=auth(a.api_key)).status_code == 204
    )
    assert client.get("/api/v1/webhooks", headers=auth(a.api_key)).json() == {"webhooks": []}


def test_bad_webhook_urls_and_statuses_are_refused(
    tmp_path: object, node: Container, client: TestClient
) -> None:
    """Only http(s) URLs and known statuses; the rule is named."""
    c = new_customer(node)
    for body, rule in [
        ({"url": "ftp://example.com/x"}, "scheme"),
        ({"url": "https://example.com/x", "statuses": ["lost"]}, "one_of"),
        ({"url": "https://example.com/x", "statuses": []}, "one_of"),
    ]:
        r = client.post("/api/v1/webhooks", json=body, headers=auth(c.api_key))
        assert (r.status_code, r.json()["rule"]) == (422, rule)


@pytest.mark.sqlite_only
@pytest.mark.node(webhook_allow_private=False)
def test_private_targets_are_refused_unless_allowed(node: Container) -> None:
    """Loopback and private addresses are refused by default (private_target)."""
    from postex.kernel.errors import ValidationError
    from postex.tracking.app.webhooks import subscribe

    c = new_customer(node)
    for url in (
        "http://127.0.0.1:8080/x",
        "http://10.1.2.3/x",
        "http://localhost/x",
        "http://[::1]/x",
    ):
        with pytest.raises(ValidationError, match="private, loopback"):
            subscribe(node.ctx, c.record.id, url, allow_private=False)
    sender = node.webhook_sender_factory(False)
    assert sender.post("http://127.0.0.1:9/x", b"{}", {}).error == "private_target"


def test_repeated_errors_mark_failing_and_keep_events_for_redelivery(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """After FAILING_AFTER failed attempts the subscription is failing, the delivery is
    still pending; after giving up it can be redelivered on request and then arrives."""
    c = new_customer(node)
    [item] = new_items(node, c.record.id)
    hook = client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "statuses": ["arrived_in_destination"]},
        headers=auth(c.api_key),
    ).json()  # fmt: skip
    clock.advance(days=4)
    client.post("/api/v1/partner/events", json={"events": [{**EVENT, "item_id": item.id}]},
                 headers=auth(partner_key(node)))  # fmt: skip
    receiver.fail_first = 10_000
    sender = node.webhook_sender_factory(True)
    for n in range(1, MAX_ATTEMPTS + 1):
        assert deliver_due(node.ctx, sender) == 1
        state = client.get(f"/api/v1/webhooks/{hook['id']}", headers=auth(c.api_key)).json()
        assert state["state"] == ("failing" if n >= FAILING_AFTER else "active")
        clock.advance(hours=7)
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth(c.api_key))
    [d] = log.json()["deliveries"]
    assert (d["state"], d["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert deliver_due(node.ctx, sender) == 0
    receiver.fail_first = 0
    again = client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{d['id']}/redeliver", headers=auth(c.api_key)
    )
    assert again.status_code == 202 and again.json()["state"] == "pending"
    receiver.requests.clear()
    assert deliver_due(node.ctx, sender) == 1
    assert receiver.requests[0][2] == 200
    state = client.get(f"/api/v1/webhooks/{hook['id']}", headers=auth(c.api_key)).json()
    assert (state["state"], state["consecutive_failures"]) == ("active", 0)


def test_chosen_statuses_filter_deliveries(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """A subscription to 'delivered' only gets the delivery event, not arrival."""
    c = new_customer(node)
    [item] = new_items(node, c.record.id)
    client.post("/api/v1/webhooks", json={"url": receiver.url, "statuses": ["delivered"]},
                 headers=auth(c.api_key))  # fmt: skip
    clock.advance(days=4)
    events = [{**EVENT, "item_id": item.id},
              {**EVENT, "item_id": item.id, "event_code": "EMI",
               "occurred_at": "2026-11-04T10:00:00-05:00"}]  # fmt: skip
    client.post("/api/v1/partner/events", json={"events": events},
                 headers=auth(partner_key(node)))  # fmt: skip
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 1
    assert b'"code":"EMI"' in receiver.requests[0][1]


def test_site_events_and_advisories_are_delivered_to_subscribers(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """Our own sites' tracking rows (PRE, CAN) reach the owner's webhook, and a published
    advisory reaches subscriptions that asked for advisories — and no other customer."""
    from postex.incidents.app.advisories import published_event
    from postex.incidents.domain import Scope
    from postex.items.app.preadvice import cancel_item

    owner, other = new_customer(node, "Owner Ltd"), new_customer(node, "Other Ltd")
    client.post("/api/v1/webhooks", json={"url": receiver.url, "advisories": True},
                 headers=auth(owner.api_key))  # fmt: skip
    [item] = new_items(node, owner.record.id)
    new_items(node, other.record.id)
    cancel_item(node.ctx, owner.record.id, item.id)
    event = published_event(
        "adv_1", "hold_1", "Exports to US delayed", Scope(), "2026-11-02T09:00:00.000000Z"
    )
    with node.store.write(node.ctx.site) as uow:
        uow.append([event])
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 3
    bodies = [json.loads(b) for _, b, _ in receiver.requests]
    kinds = sorted((b["type"], b["data"].get("code", "")) for b in bodies)
    assert kinds == [
        ("advisory.published", ""),
        ("item.tracking_event", "CAN"),
        ("item.tracking_event", "PRE"),
    ]
    assert all(b["data"].get("item_id") in (None, item.id) for b in bodies)
    assert "hold_id" not in json.dumps(bodies)


def test_webhook_projection_runs_after_every_tracking_writer() -> None:
    """tracking_ops is the last projection, so it sees every feature's new tracking rows."""
    from postex.bootstrap import PROJECTIONS

    assert PROJECTIONS[-1].name == "tracking_ops"


def test_acceptance_scans_reach_the_owners_webhook(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """An acceptance at our site (EMA, written by another feature) is announced too."""
    from postex.accounts.app.auth import Principal, Role
    from postex.sites.app.acceptance import Scan, accept

    c = new_customer(node)
    client.post("/api/v1/webhooks", json={"url": receiver.url, "statuses": ["accepted"]},
                 headers=auth(c.api_key))  # fmt: skip
    [item] = new_items(node, c.record.id)
    clerk = Principal("staff", "usr_clerk", Role.CLERK, "k", site=node.ctx.site)
    accept(node.site_ops, clerk, node.ctx.site, [Scan(item.id, item.weight_g)])
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 1
    assert b'"code":"EMA"' in receiver.requests[0][1]


def test_the_worker_inside_the_app_delivers_by_itself(
    tmp_path: Path, sqlite_url: str, receiver: Receiver
) -> None:
    """With the app's lifespan running (as in `postex serve`), a pre-advice reaches the
    subscribed receiver without anyone calling the worker."""
    import time

    from postex.server import create_app
    from tests.conftest import make_node

    node = make_node(
        tmp_path / "h", sqlite_url, webhook_allow_private=True, webhook_worker_seconds=1
    )
    c = new_customer(node)
    with TestClient(create_app(node)) as client:
        client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=auth(c.api_key))
        [item] = new_items(node, c.record.id)
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.1)
    node.close()
    assert len(receiver.requests) == 1
    assert json.loads(receiver.requests[0][1])["data"]["item_id"] == item.id


def test_an_unreachable_target_costs_one_attempt_per_round(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """When the receiver is down, a round tries one delivery; the others stay due."""
    c = new_customer(node)
    assert receiver.server is not None
    url = receiver.url
    receiver.server.shutdown()
    receiver.server.server_close()  # nothing listens there now: connection refused
    client.post("/api/v1/webhooks", json={"url": url}, headers=auth(c.api_key))
    new_items(node, c.record.id, 3)
    sender = node.webhook_sender_factory(True)
    assert deliver_due(node.ctx, sender) == 1
    assert deliver_due(node.ctx, sender) == 1
    assert deliver_due(node.ctx, sender) == 1
    assert deliver_due(node.ctx, sender) == 0  # all three wait for their backoff
