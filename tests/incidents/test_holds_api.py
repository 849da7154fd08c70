"""Holds over HTTP: who may place and release them, bad input, the two-person rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.accounts.app.auth import Role
from postex.bootstrap import Container
from postex.items.app.preadvice import cancel_item
from tests.factories import DOCUMENTS_LETTER, item_payload, new_customer, new_items
from tests.incidents.incident_helpers import (
    StepClock,
    accept_items,
    bearer,
    clock,
    iclient,
    inode,
    item_state,
    staff,
)

__all__ = ["clock", "iclient", "inode"]

NETWORK_GOODS = {"scope": {"goods_only": True}, "reason": "incident", "advisory": "Hold goods."}
LALA = {"scope": {"sites": ["GBLALA"]}, "reason": "power cut", "advisory": "Heathrow paused."}


def _head(node: Container) -> int:
    return node.store.head(node.ctx.site)[0]


@pytest.fixture
def tokens(inode: Container) -> dict[str, str]:
    made = {
        "ops1": staff(inode, "usr_ops1", Role.OPS),
        "ops2": staff(inode, "usr_ops2", Role.OPS),
        "sup": staff(inode, "usr_sup", Role.SUPERVISOR, site="GBLALA"),
        "sup_lgw": staff(inode, "usr_sup_lgw", Role.SUPERVISOR, site="GBLGWA"),
        "clerk": staff(inode, "usr_clerk", Role.CLERK, site="GBLALA"),
        "aud": staff(inode, "usr_aud", Role.AUDITOR),
    }
    return {k: token for k, (_, token) in made.items()}


@pytest.mark.parametrize(
    ("who", "body", "status", "rule"),
    [
        ("sup_lgw", LALA, 403, "own_site"),
        ("sup", NETWORK_GOODS, 403, "own_site"),
        ("clerk", LALA, 403, "role"),
        ("aud", LALA, 403, "role"),
        ("ops1", {**LALA, "advisory": " "}, 422, "min_length"),
        ("ops1", {**LALA, "advisory": None}, 422, "required"),
        ("ops1", {**LALA, "scope": {"sites": ["GBZZZZ"]}}, 422, "unknown_site"),
        ("ops1", {**LALA, "scope": {"destinations": ["XX"]}}, 422, "iso3166_alpha2"),
        ("ops1", {**LALA, "scope": {"services": ["pigeon"]}}, 422, "unknown_service"),
        ("ops1", {**LALA, "colour": "red"}, 422, "unknown_field"),
        ("ops1", {**LALA, "scope": "everything"}, 422, "type"),
    ],
)
def test_bad_hold_requests_get_a_problem_and_write_nothing(
    inode: Container, iclient: TestClient, tokens: dict[str, str],
    who: str, body: dict[str, Any], status: int, rule: str,
) -> None:  # fmt: skip
    """Wrong role or site, unknown codes and a missing advisory are refused; the log is
    unchanged."""
    before = _head(inode)
    r = iclient.post("/api/v1/holds", headers=bearer(tokens[who]), json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["rule"] == rule
    assert _head(inode) == before


def test_non_object_bodies_are_problems(iclient: TestClient, tokens: dict[str, str]) -> None:
    """A list, a string or no body at all is a 422 problem, never a 500."""
    for body in ([], "hold", None):
        r = iclient.post("/api/v1/holds", headers=bearer(tokens["ops1"]), json=body)
        assert r.status_code == 422, r.text


def test_supervisor_holds_own_site_at_once_and_items_there_are_held(
    inode: Container, iclient: TestClient, tokens: dict[str, str]
) -> None:
    """A site hold needs no second person: accepted items at the site become held."""
    customer = new_customer(inode)
    [item] = new_items(inode, customer.record.id)
    accept_items(inode, [item.id])
    r = iclient.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=LALA)
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["held_items"]) == ("active", 1)
    assert item_state(inode, item.id) == "held"
    other = iclient.get("/api/v1/holds/held-items", headers=bearer(tokens["sup_lgw"]))
    assert other.json()["items"] == []
    assert iclient.get("/api/v1/holds", headers=bearer(tokens["sup_lgw"])).json() == []
    peek = iclient.get("/api/v1/holds/held-items", params={"site": "GBLALA"},
                       headers=bearer(tokens["sup_lgw"]))  # fmt: skip
    assert peek.status_code == 404
    release = iclient.post(f"/api/v1/holds/{r.json()['id']}/release",
                           headers=bearer(tokens["sup_lgw"]), json={})  # fmt: skip
    assert release.status_code == 404
    done = iclient.post(f"/api/v1/holds/{r.json()['id']}/release", headers=bearer(tokens["sup"]),
                        json={"reason": "power back"})  # fmt: skip
    assert done.json()["released"] == [item.id]
    assert item_state(inode, item.id) == "accepted"


def test_overlapping_hold_is_a_conflict_naming_the_other(
    inode: Container, iclient: TestClient, tokens: dict[str, str]
) -> None:
    """A hold whose scope overlaps a live hold is refused with that hold's id."""
    first = iclient.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=LALA).json()
    before = _head(inode)
    body = {**LALA, "scope": {"destinations": ["US"]}}
    r = iclient.post("/api/v1/holds", headers=bearer(tokens["ops1"]), json=body)
    assert r.status_code == 409
    assert (r.json()["rule"], r.json()["hold_id"]) == ("overlapping_hold", first["id"])
    assert _head(inode) == before
    elsewhere = {**LALA, "scope": {"sites": ["GBLGWA"], "destinations": ["US"]}}
    assert iclient.post("/api/v1/holds", headers=bearer(tokens["ops1"]),
                        json=elsewhere).status_code == 201  # fmt: skip


def test_network_hold_expires_unconfirmed_and_then_no_longer_blocks(
    inode: Container, iclient: TestClient, tokens: dict[str, str], clock: StepClock
) -> None:
    """Without a second ops user within 15 minutes the hold never takes effect."""
    hold = iclient.post("/api/v1/holds", headers=bearer(tokens["ops1"]), json=NETWORK_GOODS)
    hold_id = hold.json()["id"]
    customer = new_customer(inode)
    new_items(inode, customer.record.id)  # pending: pre-advice still flows
    clock.advance(minutes=16)
    late = iclient.post(f"/api/v1/holds/{hold_id}/confirm", headers=bearer(tokens["ops2"]))
    assert late.status_code == 409 and late.json()["rule"] == "confirmation_expired"
    listed = iclient.get("/api/v1/holds", headers=bearer(tokens["aud"])).json()
    assert [h["status"] for h in listed] == ["expired"]
    again = iclient.post("/api/v1/holds", headers=bearer(tokens["ops2"]), json=NETWORK_GOODS)
    assert again.status_code == 201


def test_supervisor_cannot_confirm_and_emergency_is_audited(
    inode: Container, iclient: TestClient, tokens: dict[str, str]
) -> None:
    """Only ops confirm; an emergency hold is active at once and audited as a bypass."""
    pending = iclient.post("/api/v1/holds", headers=bearer(tokens["ops1"]), json=NETWORK_GOODS)
    hold_id = pending.json()["id"]
    r = iclient.post(f"/api/v1/holds/{hold_id}/confirm", headers=bearer(tokens["sup"]))
    assert r.status_code == 403
    assert iclient.post(f"/api/v1/holds/{hold_id}/release", headers=bearer(tokens["ops1"]),
                        json={}).json()["hold"]["status"] == "released"  # fmt: skip
    r = iclient.post("/api/v1/holds", headers=bearer(tokens["ops1"]),
                     json={**NETWORK_GOODS, "emergency": True})  # fmt: skip
    assert r.json()["status"] == "active"
    trail = iclient.get("/api/v1/audit", params={"action": "hold.two_person_rule_bypassed"},
                        headers=bearer(tokens["aud"])).json()["entries"]  # fmt: skip
    assert [(e["target"], e["actor"]["id"]) for e in trail] == [(r.json()["id"], "usr_ops1")]


def test_releasing_an_item_the_hold_does_not_hold_changes_nothing(
    inode: Container, iclient: TestClient, tokens: dict[str, str]
) -> None:
    """Listing an item that is not held by the hold is a 422 naming it."""
    hold = iclient.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=LALA).json()
    before = _head(inode)
    r = iclient.post(f"/api/v1/holds/{hold['id']}/release", headers=bearer(tokens["sup"]),
                     json={"items": ["LA100000003GB"]})  # fmt: skip
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["rule"]) == ("items[0]", "not_held")
    assert _head(inode) == before
    missing = iclient.post("/api/v1/holds/hold_nope/release", headers=bearer(tokens["ops1"]))
    assert missing.status_code == 404


def test_scheduled_hold_starts_later_and_then_holds_items(
    inode: Container, iclient: TestClient, tokens: dict[str, str], clock: StepClock
) -> None:
    """A scheduled hold refuses nothing before its start and holds accepted items after."""
    customer = new_customer(inode)
    [item] = new_items(inode, customer.record.id)
    accept_items(inode, [item.id])
    body = {**LALA, "starts_at": (clock.now() + timedelta(hours=2)).isoformat()}
    r = iclient.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=body)
    assert r.json()["status"] == "scheduled", r.text
    assert item_state(inode, item.id) == "accepted"
    new_items(inode, customer.record.id)
    clock.advance(hours=3)
    listed = iclient.get("/api/v1/holds", headers=bearer(tokens["sup"])).json()
    assert [(h["status"], h["held_items"]) for h in listed] == [("active", 1)]
    assert item_state(inode, item.id) == "held"


def test_pre_advice_outside_the_scope_flows(
    inode: Container, iclient: TestClient, tokens: dict[str, str]
) -> None:
    """A destination hold refuses items for that country only."""
    body = {"scope": {"destinations": ["US"]}, "reason": "r", "advisory": "US paused",
            "emergency": True}  # fmt: skip
    iclient.post("/api/v1/holds", headers=bearer(tokens["ops1"]), json=body)
    customer = new_customer(inode)
    api = bearer(customer.api_key)
    to_us = iclient.post("/api/v1/items", headers=api, json=item_payload())
    assert to_us.status_code == 409 and to_us.json()["advisory"] == "US paused"
    fr = {**DOCUMENTS_LETTER["addressee"], "country": "FR", "postcode": "75001", "region": None}
    to_fr = iclient.post("/api/v1/items", headers=api, json={**DOCUMENTS_LETTER, "addressee": fr})
    assert to_fr.status_code == 201, to_fr.text


def test_item_cancelled_while_held_leaves_the_queue_and_stays_cancelled(
    inode: Container, iclient: TestClient, tokens: dict[str, str]
) -> None:
    """A held item the sender cancels is no longer listed, and a release does not revive it."""
    customer = new_customer(inode)
    items = new_items(inode, customer.record.id, 2)
    accept_items(inode, [i.id for i in items])
    hold = iclient.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=LALA).json()
    cancel_item(inode.ctx, customer.record.id, items[0].id)
    queue = iclient.get("/api/v1/holds/held-items", headers=bearer(tokens["clerk"])).json()
    assert [i["item_id"] for i in queue["items"]] == [items[1].id]
    r = iclient.post(f"/api/v1/holds/{hold['id']}/release", headers=bearer(tokens["sup"]))
    assert r.json()["released"] == [items[1].id]
    assert item_state(inode, items[0].id) == "cancelled"


def test_many_items_are_held_and_released_in_bounded_events_and_rebuild_alike(
    inode: Container, iclient: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item lists are split over several events; a rebuild gives the same projections."""
    monkeypatch.setattr("postex.incidents.app.holds.CHUNK", 2)
    customer = new_customer(inode)
    items = [i.id for i in new_items(inode, customer.record.id, 5)]
    accept_items(inode, items)
    hold = iclient.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=LALA).json()
    assert hold["held_items"] == 5
    iclient.post(f"/api/v1/holds/{hold['id']}/release", headers=bearer(tokens["sup"]),
                 json={"items": items[:3]})  # fmt: skip
    kinds = [e.type for e in inode.store.read_events(inode.ctx.site) if e.type.startswith("hold.")]
    assert kinds.count("hold.items_held.v1") == 3
    assert kinds.count("hold.items_released.v1") == 2
    assert [item_state(inode, i) for i in items] == ["accepted"] * 3 + ["held"] * 2
    live = inode.rebuilder.projection_digest()
    inode.rebuilder.rebuild()
    assert inode.rebuilder.projection_digest() == live


@pytest.mark.parametrize(
    ("method", "url", "params", "body"),
    [
        ("post", "/api/v1/holds/hold_%00x/release", {}, {}),
        ("post", "/api/v1/holds/hold_%00x/confirm", {}, None),
        ("get", "/api/v1/holds/held-items", {"after": "LA\x00", "hold": "h\x00"}, None),
        ("get", "/api/v1/audit", {"actor": "a\x00b"}, None),
        ("get", "/api/v1/audit", {"since": "0001-01-01T00:00:00+14:00"}, None),
        ("get", "/api/v1/audit", {"cursor": "MDAwMHwAfDk5OTk5OTk5OTk5OTk5OTk5OTk5"}, None),
        ("post", "/api/v1/holds", {}, {**LALA, "starts_at": "9999-12-31T23:59:59-14:00"}),
        ("post", "/api/v1/holds", {}, {**LALA, "scope": {"sites": [["GBLALA"]]}}),
        ("post", "/api/v1/advisories/adv_%00/updates", {}, {"text": "x"}),
    ],
)
def test_hostile_input_is_a_problem_not_a_crash(
    iclient: TestClient, tokens: dict[str, str], method: str, url: str,
    params: dict[str, str], body: Any,
) -> None:  # fmt: skip
    """NUL bytes, out-of-range times and odd shapes get a 4xx problem on both stores."""
    r = iclient.request(method, url, params=params, json=body, headers=bearer(tokens["ops1"]))
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json"
