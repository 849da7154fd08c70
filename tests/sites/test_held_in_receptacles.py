"""Held items in open receptacles: set aside, never closed in, and released visibly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres
from postex.incidents.app.holds import place_hold, release_hold
from postex.kernel.errors import HeldError
from postex.server import create_app
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.factories import SERIES, SITE, letters, staff

SITE_HOLD = {"scope": {"sites": [SITE]}, "reason": "power cut", "advisory": "Heathrow paused."}


def _state(node: Container, item_id: str) -> tuple[str, str | None]:
    ph = "%s" if is_postgres(node.engine) else "?"
    rows = execute_raw(
        node.engine, f"SELECT state, held_from FROM items WHERE id = {ph}", [item_id]
    )
    return (str(rows[0][0]), rows[0][1])


def _bagged_then_held(node: Container, n: int = 2) -> tuple[list[str], str, str]:
    """n accepted letters in one open bag, then a site hold catches them: (ids, bag, hold)."""
    clerk = staff(node, "clerk")
    boss = staff(node, "supervisor")
    items = letters(node, n, 0)
    accept(node.site_ops, clerk.principal, SITE, [Scan(i.id, i.weight_g) for i in items])
    bag = rcp.open_receptacle(node.site_ops, clerk.principal, SITE, **SERIES)
    rcp.add_items(node.site_ops, clerk.principal, SITE, bag.id, [i.id for i in items])
    hold = place_hold(node.ctx, boss.principal, SITE_HOLD)
    return [i.id for i in items], bag.id, hold.id


def test_a_held_item_set_aside_stays_held_and_its_release_makes_it_accepted(
    node: Container,
) -> None:
    """Taking a held item out of its bag keeps it held (and in the queue); the release
    returns it to accepted, not to a receptacle it has left, so it can be bagged again."""
    ids, bag, hold_id = _bagged_then_held(node, 1)
    clerk = staff(node, "clerk", name="clerk.two")
    assert _state(node, ids[0]) == ("held", "in_receptacle")
    emptied = rcp.remove_item(node.site_ops, clerk.principal, SITE, bag, ids[0])
    assert emptied.item_count == 0
    assert _state(node, ids[0]) == ("held", "accepted")
    with pytest.raises(HeldError):
        rcp.add_items(node.site_ops, clerk.principal, SITE, bag, ids)
    boss = staff(node, "supervisor", name="boss.two")
    outcome = release_hold(node.ctx, boss.principal, hold_id, {"reason": "power back"})
    assert outcome.released == ids
    assert _state(node, ids[0]) == ("accepted", None)
    again = rcp.add_items(node.site_ops, clerk.principal, SITE, bag, ids)
    assert again.item_count == 1


def test_closing_a_bag_with_held_items_is_refused_naming_them_and_writes_nothing(
    node: Container,
) -> None:
    """The problem lists every held item with its hold; the log does not move."""
    ids, bag, hold_id = _bagged_then_held(node, 2)
    clerk = staff(node, "clerk", name="clerk.two")
    before = node.store.head(SITE)
    with pytest.raises(HeldError) as caught:
        rcp.close_receptacle(node.site_ops, clerk.principal, SITE, bag, 2000)
    problem = caught.value.to_problem()
    assert problem["rule"] == "held_items"
    assert problem["held_items"] == [{"item_id": i, "hold_id": hold_id} for i in sorted(ids)]
    assert node.store.head(SITE) == before
    assert rcp.get_receptacle(node.site_ops, clerk.principal, SITE, bag).state == "open"
    for item_id in ids:
        rcp.remove_item(node.site_ops, clerk.principal, SITE, bag, item_id)
    with pytest.raises(Exception, match="empty"):
        rcp.close_receptacle(node.site_ops, clerk.principal, SITE, bag, 2000)


def test_a_bag_whose_held_items_were_released_closes(node: Container) -> None:
    """Once the hold is released the same bag closes with its items."""
    ids, bag, hold_id = _bagged_then_held(node, 2)
    boss = staff(node, "supervisor", name="boss.two")
    release_hold(node.ctx, boss.principal, hold_id, {})
    assert {_state(node, i) for i in ids} == {("in_receptacle", None)}
    closed = rcp.close_receptacle(node.site_ops, boss.principal, SITE, bag, 2000)
    assert closed.record.state == "closed"


@pytest.fixture
def http(node: Container) -> Iterator[TestClient]:
    with TestClient(create_app(node)) as c:
        yield c


def test_a_release_shows_on_public_tracking_without_personal_data(
    node: Container, http: TestClient
) -> None:
    """After EXD the public timeline shows the release (local code REL) and the status
    leaves "exception"; names and addresses never appear."""
    ids, _bag, hold_id = _bagged_then_held(node, 1)
    held = http.get(f"/api/v1/tracking/{ids[0]}").json()
    assert [e["code"] for e in held["events"]][-1] == "EXD"
    assert held["status"] == "exception"
    boss = staff(node, "supervisor", name="boss.two")
    release_hold(node.ctx, boss.principal, hold_id, {"reason": "power back"})
    r = http.get(f"/api/v1/tracking/{ids[0]}")
    assert r.status_code == 200
    body = r.json()
    assert [e["code"] for e in body["events"]][-2:] == ["EXD", "REL"]
    assert body["status"] == "in_transit"
    last = body["events"][-1]
    assert "released" in last["description"].lower()
    assert last["place"] is not None
    text = r.text
    for secret in ("power back", "Heathrow paused", "Thistlewood", "Quincey", "Juniper"):
        assert secret not in text


def test_closing_a_bag_with_held_items_over_http_is_a_409_problem(
    node: Container, http: TestClient
) -> None:
    """The staff API answers 409 export-held, rule held_items, with each item and its hold."""
    ids, bag, hold_id = _bagged_then_held(node, 1)
    clerk = staff(node, "clerk", name="clerk.http")
    r = http.post(
        f"/api/v1/sites/{SITE}/receptacles/{bag}/close",
        json={"gross_weight_g": 1500},
        headers=clerk.headers,
    )
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["rule"], body["hold_id"]) == ("held_items", hold_id)
    assert body["held_items"] == [{"item_id": ids[0], "hold_id": hold_id}]
