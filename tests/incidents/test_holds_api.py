"""Holds over HTTP: who may place and release them, bad input, the two-person rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.accounts.app.auth import Role
from postex.bootstrap import Container
from postex.items.app.preadvice import cancel_item
from tests.factories import DOCUMENTS_LETTER, ManualClock, item_payload, new_customer, new_items
from tests.incidents.incident_helpers import accept_items, bearer, item_state, staff

NETWORK_GOODS = {"scope": {"goods_only": True}, "reason": "incident", "advisory": "Hold goods."}
LALA = {"scope": {"sites": ["GBLALA"]}, "reason": "power cut", "advisory": "Heathrow paused."}


def _head(node: Container) -> int:
    return node.store.head(node.ctx.site)[0]


@pytest.fixture
def tokens(node: Container) -> dict[str, str]:
    made = {
        "ops1": staff(node, "usr_ops1", Role.OPS),
        "ops2": staff(node, "usr_ops2", Role.OPS),
        "sup": staff(node, "usr_sup", Role.SUPERVISOR, site="GBLALA"),
        "sup_lgw": staff(node, "usr_sup_lgw", Role.SUPERVISOR, site="GBLGWA"),
        "clerk": staff(node, "usr_clerk", Role.CLERK, site="GBLALA"),
        "aud": staff(node, "usr_aud", Role.AUDITOR),
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
    node: Container, client: TestClient, tokens: dict[str, str],
    who: str, body: dict[str, Any], status: int, rule: str,
) -> None:  # fmt: skip
    """Wrong role or site, unknown codes and a missing advisory are refused; the log is
    unchanged."""
    before = _head(node)
    r = client.post("/api/v1/holds", headers=bearer(tokens[who]), json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["rule"] == rule
    assert _head(node) == before


def test_non_object_bodies_are_problems(client: TestClient, tokens: dict[str, str]) -> None:
    """A list, a string or no body at all is a 422 problem, never a 500."""
    for body in ([], "hold", None):
        r = client.post("/api/v1/holds", headers=bearer(tokens["ops1"]), json=body)
        assert r.status_code == 422, r.text


def test_supervisor_holds_own_site_at_once_and_items_there_are_held(
    node: Container, client: TestClient, tokens: dict[str, str]
) -> None:
    """A site hold needs no second person: accepted items at the site become held."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    accept_items(node, [item.id])
    r = client.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=LALA)
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["held_items"]) == ("active", 1)
    assert item_state(node, item.id) == "held"
    other = client.get("/api/v1/holds/held-items", headers=bearer(tokens["sup_lgw"]))
    assert other.json()["items"] == []
    assert client.get("/api/v1/holds", headers=bearer(tokens["sup_lgw"])).json() == []
    peek = client.get("/api/v1/holds/held-items", params={"site": "GBLALA"},
                       headers=bearer(tokens["sup_lgw"]))  # fmt: skip
    assert peek.status_code == 404
    release = client.post(f"/api/v1/holds/{r.json()['id']}/release",
                           headers=bearer(tokens["sup_lgw"]), json={})  # fmt: skip
    assert release.status_code == 404
    done = client.post(f"/api/v1/holds/{r.json()['id']}/release", headers=bearer(tokens["sup"]),
                        json={"reason": "power back"})  # fmt: skip
    assert done.json()["released"] == [item.id]
    assert item_state(node, item.id) == "accepted"


def test_overlapping_hold_is_a_conflict_naming_the_other(
    node: Container, client: TestClient, tokens: dict[str, str]
) -> None:
    """A hold whose scope overlaps a live hold is refused with that hold's id."""
    first = client.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=LALA).json()
    before = _head(node)
    body = {**LALA, "scope": {"destinations": ["US"]}}
    r = client.post("/api/v1/holds", headers=bearer(tokens["ops1"]), json=body)
    assert r.status_code == 409
    assert (r.json()["rule"], r.json()["hold_id"]) == ("overlapping_hold", first["id"])
    assert _head(node) == before
    elsewhere = {**LALA, "scope": {"sites": ["GBLGWA"], "destinations": ["US"]}}
    assert client.post("/api/v1/holds", headers=bearer(tokens["ops1"]),
                        json=elsewhere).status_code == 201  # fmt: skip


def test_network_hold_expires_unconfirmed_and_then_no_longer_blocks(
    node: Container, client: TestClient, tokens: dict[str, str], clock: ManualClock
) -> None:
    """Without a second ops user within 15 minutes the hold never takes effect."""
    hold = client.post("/api/v1/holds", headers=bearer(tokens["ops1"]), json=NETWORK_GOODS)
    hold_id = hold.json()["id"]
    customer = new_customer(node)
    new_items(node, customer.record.id)  # pending: pre-advice still flows
    clock.advance(minutes=16)
    late = client.post(f"/api/v1/holds/{hold_id}/confirm", headers=bearer(tokens["ops2"]))
    assert late.status_code == 409 and late.json()["rule"] == "confirmation_expired"
    listed = client.get("/api/v1/holds", headers=bearer(tokens["aud"])).json()
    assert [h["status"] for h in listed] == ["expired"]
    again = client.post("/api/v1/holds", headers=bearer(tokens["ops2"]), json=NETWORK_GOODS)
    assert again.status_code == 201


def test_supervisor_cannot_confirm_and_emergency_is_audited(
    node: Container, client: TestClient, tokens: dict[str, str]
) -> None:
    """Only ops confirm; an emergency hold is active at once and audited as a bypass."""
    pending = client.post("/api/v1/holds", headers=bearer(tokens["ops1"]), json=NETWORK_GOODS)
    hold_id = pending.json()["id"]
    r = client.post(f"/api/v1/holds/{hold_id}/confirm", headers=bearer(tokens["sup"]))
    assert r.status_code == 403
    assert client.post(f"/api/v1/holds/{hold_id}/release", headers=bearer(tokens["ops1"]),
                        json={}).json()["hold"]["status"] == "released"  # fmt: skip
    r = client.post("/api/v1/holds", headers=bearer(tokens["ops1"]),
                     json={**NETWORK_GOODS, "emergency": True})  # fmt: skip
    assert r.json()["status"] == "active"
    trail = client.get("/api/v1/audit", params={"action": "hold.two_person_rule_bypassed"},
                        headers=bearer(tokens["aud"])).json()["entries"]  # fmt: skip
    assert [(e["target"], e["actor"]["id"]) for e in trail] == [(r.json()["id"], "usr_ops1")]


def test_releasing_an_item_the_hold_does_not_hold_changes_nothing(
    node: Container, client: TestClient, tokens: dict[str, str]
) -> None:
    """Listing an item that is not held by the hold is a 422 naming it."""
    hold = client.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=LALA).json()
    before = _head(node)
    r = client.post(f"/api/v1/holds/{hold['id']}/release", headers=bearer(tokens["sup"]),
                     json={"items": ["LA100000003GB"]})  # fmt: skip
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["rule"]) == ("items[0]", "not_held")
    assert _head(node) == before
    missing = client.post("/api/v1/holds/hold_nope/release", headers=bearer(tokens["ops1"]))
    assert missing.status_code == 404


def test_scheduled_hold_starts_later_and_then_holds_items(
    node: Container, client: TestClient, tokens: dict[str, str], clock: ManualClock
) -> None:
    """A scheduled hold refuses nothing before its start and holds accepted items after."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    accept_items(node, [item.id])
    body = {**LALA, "starts_at": (clock.now() + timedelta(hours=2)).isoformat()}
    r = client.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=body)
    assert r.json()["status"] == "scheduled", r.text
    assert item_state(node, item.id) == "accepted"
    new_items(node, customer.record.id)
    clock.advance(hours=3)
    listed = client.get("/api/v1/holds", headers=bearer(tokens["sup"])).json()
    assert [(h["status"], h["held_items"]) for h in listed] == [("active", 1)]
    assert item_state(node, item.id) == "held"


def test_pre_advice_outside_the_scope_flows(
    node: Container, client: TestClient, tokens: dict[str, str]
) -> None:
    """A destination hold refuses items for that country only."""
    body = {"scope": {"destinations": ["US"]}, "reason": "r", "advisory": "US paused",
            "emergency": True}  # fmt: skip
    client.post("/api/v1/holds", headers=bearer(tokens["ops1"]), json=body)
    customer = new_customer(node)
    api = bearer(customer.api_key)
    to_us = client.post("/api/v1/items", headers=api, json=item_payload())
    assert to_us.status_code == 409 and to_us.json()["advisory"] == "US paused"
    fr = {**DOCUMENTS_LETTER["addressee"], "country": "FR", "postcode": "75001", "region": None}
    to_fr = client.post("/api/v1/items", headers=api, json={**DOCUMENTS_LETTER, "addressee": fr})
    assert to_fr.status_code == 201, to_fr.text


def test_item_cancelled_while_held_leaves_the_queue_and_stays_cancelled(
    node: Container, client: TestClient, tokens: dict[str, str]
) -> None:
    """A held item the sender cancels is no longer listed, and a release does not revive it."""
    customer = new_customer(node)
    items = new_items(node, customer.record.id, 2)
    accept_items(node, [i.id for i in items])
    hold = client.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=LALA).json()
    cancel_item(node.ctx, customer.record.id, items[0].id)
    queue = client.get("/api/v1/holds/held-items", headers=bearer(tokens["clerk"])).json()
    assert [i["item_id"] for i in queue["items"]] == [items[1].id]
    r = client.post(f"/api/v1/holds/{hold['id']}/release", headers=bearer(tokens["sup"]))
    assert r.json()["released"] == [items[1].id]
    assert item_state(node, items[0].id) == "cancelled"


def test_many_items_are_held_and_released_in_bounded_events_and_rebuild_alike(
    node: Container, client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item lists are split over several events; a rebuild gives the same projections."""
    monkeypatch.setattr("postex.incidents.app.holds.CHUNK", 2)
    customer = new_customer(node)
    items = [i.id for i in new_items(node, customer.record.id, 5)]
    accept_items(node, items)
    hold = client.post("/api/v1/holds", headers=bearer(tokens["sup"]), json=LALA).json()
    assert hold["held_items"] == 5
    client.post(f"/api/v1/holds/{hold['id']}/release", headers=bearer(tokens["sup"]),
                 json={"items": items[:3]})  # fmt: skip
    kinds = [e.type for e in node.store.read_events(node.ctx.site) if e.type.startswith("hold.")]
    assert kinds.count("hold.items_held.v1") == 3
    assert kinds.count("hold.items_released.v1") == 2
    assert [item_state(node, i) for i in items] == ["accepted"] * 3 + ["held"] * 2
    live = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live


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
    client: TestClient, tokens: dict[str, str], method: str, url: str,
    params: dict[str, str], body: Any,
) -> None:  # fmt: skip
    """NUL bytes, out-of-range times and odd shapes get a 4xx problem on both stores."""
    r = client.request(method, url, params=params, json=body, headers=bearer(tokens["ops1"]))
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json"
