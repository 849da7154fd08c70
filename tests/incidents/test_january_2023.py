"""The January 2023 story, replayed through the HTTP API on both stores."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.accounts.app.auth import Principal, Role, issue_token
from postex.bootstrap import Container
from postex.incidents.domain import network
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import parse_pre_advice
from postex.kernel.errors import HeldError
from postex.sites.app.receptacles import add_items, open_receptacle
from postex.tracking.app.partner_events import ingest_partner_events, parse_json_batch
from postex.tracking.app.webhooks import subscribe
from tests.factories import DOCUMENTS_LETTER, ManualClock, item_payload, new_customer
from tests.incidents.incident_helpers import ACCEPTED, accept_items, bearer, item_state, staff

ADVICE = "Please hold export items with goods; letters without customs data still go."


def _items(node: Container, customer_id: str, payload: dict[str, Any], n: int) -> list[str]:
    advice = parse_pre_advice(copy.deepcopy(payload))
    return [r.id for r in pre_advise(node.ctx, customer_id, [advice] * n)]


def _partner(node: Container) -> Principal:
    office = network().route("US", "U").destination
    token = issue_token("partner", "prt_usps", Role.PARTNER, offices=(office,), name="USPS")
    with node.ctx.store.write(node.ctx.site) as uow:
        uow.append([token.event])
    return Principal("partner", "prt_usps", Role.PARTNER, token.key_id, offices=(office,))


def _inbound(
    node: Container, clock: ManualClock, partner: Principal, item_id: str, code: str
) -> None:
    office = network().route("US", "U").destination
    rows = parse_json_batch(
        {"events": [{"item_id": item_id, "event_code": code, "office": office,
                     "occurred_at": clock.now().isoformat()}]}
    )  # fmt: skip
    result = ingest_partner_events(node.ctx, partner, rows)
    assert result.accepted == 1


def _codes(client: TestClient, item_id: str) -> list[str]:
    return [e["code"] for e in client.get(f"/api/v1/tracking/{item_id}").json()["events"]]


def test_january_2023_goods_exports_held_letters_flow_and_release_in_two_steps(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """A network-wide hold on goods stops goods exports while documents letters and inbound
    partner events flow; held items are released letters first, then tracked; every step is
    in the audit trail."""
    customer = new_customer(node)
    cid = customer.record.id
    _, t_ops1 = staff(node, "usr_ops_anna", Role.OPS)
    _, t_ops2 = staff(node, "usr_ops_ben", Role.OPS)
    _, t_sup = staff(node, "usr_sup_lala", Role.SUPERVISOR, site="GBLALA")
    _, t_aud = staff(node, "usr_aud", Role.AUDITOR)
    clerk, _ = staff(node, "usr_clerk_x", Role.CLERK, site="GBLALA")
    partner = _partner(node)
    hook = subscribe(node.ctx, cid, "https://hooks.example.com/postex", advisories=True)

    # Before the incident: items accepted at Heathrow.
    docs = _items(node, cid, DOCUMENTS_LETTER, 2)
    goods_letters = _items(node, cid, item_payload(service="standard_letter", weight_g=500,
                                                   dimensions_mm=None), 2)  # fmt: skip
    tracked = _items(node, cid, item_payload(), 2)
    waiting = _items(node, cid, item_payload(), 1)  # pre-advised, not yet handed in
    accept_items(node, docs + goods_letters + tracked)
    route = network().route("US", "U")
    receptacle = open_receptacle(node.site_ops, clerk, "GBLALA", route.destination,
                                 route.category, route.subclass)  # fmt: skip
    add_items(node.site_ops, clerk, "GBLALA", receptacle.id, [tracked[0]])

    # Day 1: ops hold goods exports network-wide; a second ops user confirms.
    clock.advance(hours=1)
    r = client.post("/api/v1/holds", headers=bearer(t_ops1), json={
        "scope": {"goods_only": True}, "reason": "cyber incident: back office down",
        "advisory": ADVICE})  # fmt: skip
    assert r.status_code == 201, r.text
    hold = r.json()
    assert (hold["status"], hold["held_items"]) == ("pending", 0)
    same = client.post(f"/api/v1/holds/{hold['id']}/confirm", headers=bearer(t_ops1))
    assert same.status_code == 403 and same.json()["rule"] == "two_person"
    clock.advance(minutes=5)
    r = client.post(f"/api/v1/holds/{hold['id']}/confirm", headers=bearer(t_ops2))
    assert r.status_code == 200, r.text
    assert r.json()["hold"]["status"] == "active"
    assert r.json()["hold"]["held_items"] == 4
    for item in goods_letters + tracked:
        assert item_state(node, item) == "held"
        assert _codes(client, item)[-1] == "EXD"
    for item in docs:
        assert item_state(node, item) == ACCEPTED

    # Customers' pre-advice of goods is refused with the advisory; documents letters go.
    api = bearer(customer.api_key)
    refused = client.post("/api/v1/items", headers=api, json=item_payload())
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["hold_id"] == hold["id"]
    assert problem["advisory"] == ADVICE
    assert ADVICE in problem["detail"]
    letter = client.post("/api/v1/items", headers=api, json=copy.deepcopy(DOCUMENTS_LETTER))
    assert letter.status_code == 201, letter.text
    accept_items(node, [letter.json()["id"]])
    # A goods item pre-advised before the hold is refused at the counter.
    with pytest.raises(HeldError) as refused_at_counter:
        accept_items(node, waiting)
    assert refused_at_counter.value.extra["hold_id"] == hold["id"]
    assert item_state(node, waiting[0]) == "pre_advised"

    # Inbound partner events keep flowing.
    _inbound(node, clock, partner, docs[0], "EMD")
    assert "EMD" in _codes(client, docs[0])

    # The held-items queue of Heathrow, with the open receptacle flagged.
    q = client.get("/api/v1/holds/held-items", headers=bearer(t_sup)).json()["items"]
    assert sorted(i["item_id"] for i in q) == sorted(goods_letters + tracked)
    flagged = {i["item_id"]: i["open_receptacles"] for i in q}
    assert flagged[tracked[0]] == [receptacle.id]
    assert flagged[tracked[1]] == []
    boxes = client.get("/api/v1/holds/flagged-receptacles", headers=bearer(t_sup)).json()
    assert boxes == [{"receptacle_id": receptacle.id, "site": "GBLALA", "held_items": 1}]

    # Public advisories and the status page.
    adv = client.get("/api/v1/advisories").json()
    assert [(a["status"], a["text"], a["goods_only"]) for a in adv] == [("active", ADVICE, True)]
    page = client.get("/status").text
    assert "Please hold export items with goods" in page

    # Day 8: letters first (a release of a network-wide hold needs two people too).
    clock.advance(days=7)
    r = client.post(f"/api/v1/holds/{hold['id']}/release", headers=bearer(t_ops1),
                    json={"services": ["standard_letter"], "reason": "letters resume"})  # fmt: skip
    assert r.status_code == 200 and r.json()["pending_confirmation"] is True
    assert item_state(node, goods_letters[0]) == "held"
    r = client.post(f"/api/v1/holds/{hold['id']}/confirm", headers=bearer(t_ops2))
    assert r.status_code == 200, r.text
    assert sorted(r.json()["released"]) == sorted(goods_letters)
    assert r.json()["hold"]["status"] == "active"
    for item in goods_letters:
        assert item_state(node, item) == ACCEPTED
    assert item_state(node, tracked[0]) == "held"
    # Released letters are exempt from the hold: they go into receptacles again.
    add_items(node.site_ops, clerk, "GBLALA", receptacle.id, [goods_letters[0]])
    assert item_state(node, goods_letters[0]) == "in_receptacle"
    _inbound(node, clock, partner, docs[1], "EMD")

    # Day 16: tracked services; the hold ends.
    clock.advance(days=8)
    r = client.post(f"/api/v1/holds/{hold['id']}/release", headers=bearer(t_ops2),
                    json={"reason": "tracked services resume"})  # fmt: skip
    assert r.json()["pending_confirmation"] is True
    r = client.post(f"/api/v1/holds/{hold['id']}/confirm", headers=bearer(t_ops1))
    assert r.status_code == 200, r.text
    assert sorted(r.json()["released"]) == sorted(tracked)
    assert r.json()["hold"]["status"] == "released"
    assert item_state(node, tracked[0]) == "in_receptacle"
    assert item_state(node, tracked[1]) == ACCEPTED
    again = client.post(f"/api/v1/holds/{hold['id']}/release", headers=bearer(t_ops1), json={})
    assert again.status_code == 409 and again.json()["rule"] == "already_released"
    assert client.post("/api/v1/items", headers=api, json=item_payload()).status_code == 201
    adv = client.get("/api/v1/advisories").json()
    assert adv[0]["status"] == "resolved"
    assert [u["text"] for u in adv[0]["updates"]][-1].startswith("Resolved")

    # Customers subscribed to advisories have each announcement waiting for delivery.
    log = client.get(f"/api/v1/webhooks/{hook.record.id}/deliveries", headers=api).json()
    kinds = [d["event_type"] for d in reversed(log["deliveries"])]
    assert [k for k in kinds if k.startswith("advisory.")] == [
        "advisory.published", "advisory.updated", "advisory.closed"]  # fmt: skip
    # Every step is in the audit trail, with who did it.
    trail = client.get("/api/v1/audit", params={"action": "hold.*"}, headers=bearer(t_aud))
    assert trail.status_code == 200
    steps = [(e["action"], e["actor"]["id"]) for e in reversed(trail.json()["entries"])]
    assert steps == [
        ("hold.placed", "usr_ops_anna"),
        ("hold.confirmed", "usr_ops_ben"),
        ("hold.release_requested", "usr_ops_anna"),
        ("hold.partially_released", "usr_ops_ben"),
        ("hold.release_requested", "usr_ops_ben"),
        ("hold.released", "usr_ops_anna"),
    ]
    live = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live
