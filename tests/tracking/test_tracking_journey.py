"""Done-when: a partner journey out of order and twice, a receiver outage, signed webhooks
delivered once each, and a public page that shows the journey without personal data."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.tracking.app.webhooks import deliver_due
from tests.factories import ITEM, ManualClock, new_customer, new_items
from tests.tracking.conftest import Receiver, auth, partner_key

# EMD … EMI: each a different customer-facing status, times in New York (UTC-5).
JOURNEY = [
    ("EMD", "2026-11-03T15:22:00-05:00", "USJFKA"),
    ("EDB", "2026-11-03T18:05:00-05:00", "USJFKA"),
    ("EDG", "2026-11-04T07:30:00-05:00", "USNYCA"),
    ("EMH", "2026-11-04T11:10:00-05:00", "USNYCA"),
    ("EMI", "2026-11-05T10:45:00-05:00", "USNYCA"),
]
STATUSES = [
    "arrived_in_destination",
    "held_by_customs",
    "out_for_delivery",
    "delivery_attempted",
    "delivered",
]


def _event(item_id: str, code: str, at: str, office: str) -> dict[str, str]:
    return {"item_id": item_id, "event_code": code, "occurred_at": at, "office": office}


def _csv(item_id: str) -> bytes:
    lines = ["item_id,event_code,occurred_at,office,reason_code,next_office"]
    lines += [f"{item_id},{code},{at},{office},," for code, at, office in reversed(JOURNEY)]
    return ("\n".join(lines) + "\n").encode()


def _personal_values() -> list[str]:
    out = []
    for party in ("sender", "addressee"):
        p = ITEM[party]
        out += [p["name"], p["phone"], p["email"], p["address_lines"][0]]
    return out


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    fields = dict(part.split("=", 1) for part in headers["Postex-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), fields["v1"])


def test_partner_journey_reaches_webhook_once_signed_after_outage(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """Out-of-order, repeated partner events give one signed delivery per status after an
    outage, the right timeline and state, and a public page with no personal data."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    hook = client.post(
        "/api/v1/webhooks", json={"url": receiver.url}, headers=auth(customer.api_key)
    )
    assert hook.status_code == 201, hook.text
    secret, hook_id = hook.json()["secret"], hook.json()["id"]
    key = partner_key(node)
    clock.advance(days=4)

    events = [_event(item.id, *e) for e in JOURNEY]
    shuffled = random.Random(5).sample(events, len(events))
    first = client.post("/api/v1/partner/events", json={"events": shuffled[:3]}, headers=auth(key))
    assert first.json() == {"accepted": 3, "duplicates": 0, "quarantined": 0, "rejected": []}
    again = client.post(
        "/api/v1/partner/events", json={"events": shuffled[::-1]}, headers=auth(key)
    )
    assert (again.json()["accepted"], again.json()["duplicates"]) == (2, 3)
    as_file = client.post(
        "/api/v1/partner/events",
        content=_csv(item.id),
        headers={**auth(key), "Content-Type": "text/csv"},
    )
    assert (as_file.json()["accepted"], as_file.json()["duplicates"]) == (0, 5)

    receiver.fail_first = 5  # the receiver is down for the first round
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 5
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 0  # backing off
    log = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=auth(customer.api_key))
    assert {(d["state"], d["last_status"]) for d in log.json()["deliveries"]} == {("pending", 503)}
    clock.advance(seconds=61)
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 5
    clock.advance(days=3)
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 0

    delivered = [(h, b) for h, b, status in receiver.requests if status == 200]
    assert all(_verify(secret, h, b) for h, b in delivered)
    got = sorted(json.loads(b)["data"]["status"] for _, b in delivered)
    assert got == sorted(STATUSES)

    public = client.get(f"/api/v1/tracking/{item.id}").json()
    assert public["status"] == "delivered"
    assert [e["code"] for e in public["events"]] == ["PRE"] + [c for c, _, _ in JOURNEY]
    assert public["events"][1]["time"] == "2026-11-03T15:22:00-05:00"
    page = client.get(f"/track/{item.id}")
    assert page.status_code == 200
    assert "Delivered" in page.text
    assert "Arrived at the inward office of exchange" in page.text
    for value in _personal_values():
        assert value not in page.text
        assert value not in json.dumps(public)
    assert node.ctx.store is node.store
    with node.store.read() as uow:
        from postex.items.app.preadvice import ItemRepository

        record = uow.repo(ItemRepository).get_any(item.id)
    assert record is not None and record.state == "pre_advised"  # never despatched here


def test_rebuild_recreates_deliveries_and_sends_nothing_twice(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """After a rebuild the projections are identical and delivered events are not resent."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=auth(customer.api_key))
    key = partner_key(node)
    clock.advance(days=4)
    client.post(
        "/api/v1/partner/events",
        json={"events": [_event(item.id, *e) for e in JOURNEY[:2]]},
        headers=auth(key),
    )
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 2
    before = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == before
    clock.advance(days=2)
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 0
    assert len(receiver.requests) == 2


def _documented_verify() -> object:
    """The verification snippet of docs/api.md, executed as documented."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    section = text.split("### Verifying a delivery", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(code, namespace)  # our own documentation, under test
    return namespace["verify"]


def test_documented_verification_snippet_accepts_ours_and_rejects_tampering(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """The docs/api.md snippet verifies a real delivery and refuses a changed body or an
    old timestamp."""
    verify = _documented_verify()
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    secret = client.post(
        "/api/v1/webhooks", json={"url": receiver.url}, headers=auth(customer.api_key)
    ).json()["secret"]
    clock.advance(days=4)
    client.post(
        "/api/v1/partner/events",
        json={"events": [_event(item.id, *JOURNEY[0])]},
        headers=auth(partner_key(node)),
    )
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 1
    headers, body, _ = receiver.requests[0]
    header = headers["Postex-Signature"]
    sent_at = clock.now().timestamp()
    assert verify(secret, header, body, now=sent_at)  # type: ignore[operator]
    assert not verify(secret, header, body.replace(b"EMD", b"EMI"), now=sent_at)  # type: ignore[operator]
    assert not verify(secret, header, body, now=sent_at + 3600)  # type: ignore[operator]
    assert not verify("whsec_wrong", header, body, now=sent_at)  # type: ignore[operator]
