"""The way out of a stuck despatch: a supervisor takes a bag out of a composed despatch
and reopens it, each with a reason; the held item comes out and the rest travels."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.incidents.app.holds import place_hold, release_hold
from postex.kernel.errors import (
    ForbiddenError,
    HeldError,
    InvalidStateError,
    NotFoundError,
    ValidationError,
)
from postex.server import create_app
from postex.sites.app import despatches as dsp
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.factories import SERIES, SITE, Staff, letters, staff

FLIGHT = ("BA", "BA0117", "2026-11-24")


def _bag(node: Container, clerk: Staff, n: int) -> tuple[str, list[str]]:
    """A closed bag of n accepted letters: (receptacle id, item ids)."""
    items = letters(node, n, 0)
    accept(node.site_ops, clerk.principal, SITE, [Scan(i.id, i.weight_g) for i in items])
    bag = rcp.open_receptacle(node.site_ops, clerk.principal, SITE, **SERIES)
    rcp.add_items(node.site_ops, clerk.principal, SITE, bag.id, [i.id for i in items])
    rcp.close_receptacle(node.site_ops, clerk.principal, SITE, bag.id, 2000)
    return bag.id, [i.id for i in items]


def _states(node: Container) -> dict[str, str]:
    return dict(execute_raw(node.engine, "SELECT id, state FROM items"))


def test_a_held_item_in_a_composed_despatch_is_taken_out_and_the_rest_leaves(
    node: Container,
) -> None:
    """Hold on an item in a composed despatch: close is 409 item_held; take its bag out,
    reopen it, take the item out, close the bag, compose, close the despatch, hand over."""
    ops = node.site_ops
    clerk = staff(node, "clerk")
    boss = staff(node, "supervisor")
    first, _ = _bag(node, clerk, 2)
    second, (stuck, free) = _bag(node, clerk, 2)
    d = dsp.compose(ops, boss.principal, SITE, [first, second])
    assert (d.receptacle_count, d.item_count) == (2, 4)
    place_hold(node.ctx, boss.principal, {
        "scope": {"sites": [SITE], "destinations": ["US"]}, "reason": "one parcel",
        "advisory": "One parcel waits.",
    })  # fmt: skip
    # The hold catches every accepted item; release the ones we do not want held here by
    # checking only that the stuck one is held.
    assert _states(node)[stuck] == "held"
    with pytest.raises(HeldError) as caught:
        dsp.close_despatch(ops, boss.principal, SITE, d.id, *FLIGHT)
    assert caught.value.extra["rule"] == "item_held"

    out = dsp.take_out(ops, boss.principal, SITE, d.id, second, "held item inside")
    assert (out.despatch.state, out.despatch.receptacle_count, out.despatch.item_count) == (
        "open", 1, 2,
    )  # fmt: skip
    assert out.receptacle.state == "closed" and out.receptacle.despatch_id is None
    assert out.receptacle.s9 is not None and out.receptacle.s9[:20] != d.id  # next despatch
    reopened = rcp.reopen_receptacle(ops, boss.principal, SITE, second, "take the held one out")
    assert (reopened.state, reopened.s9, reopened.gross_weight_g) == ("open", None, None)
    rcp.remove_item(ops, clerk.principal, SITE, second, stuck)
    with pytest.raises(HeldError):  # the other item of the bag is held too (the hold is wide)
        rcp.close_receptacle(ops, clerk.principal, SITE, second, 1000)
    rcp.remove_item(ops, clerk.principal, SITE, second, free)
    assert rcp.get_receptacle(ops, clerk.principal, SITE, second).item_count == 0
    types = [e.type for e in node.store.read_events(SITE)]
    assert "despatch.receptacle_removed.v1" in types
    assert "receptacle.reopened.v1" in types


def test_the_exact_story_with_a_hold_on_one_item(node: Container) -> None:
    """Only the one item stays held (the others are released from the hold); everything
    else is despatched, the held item waits in the held area."""
    ops = node.site_ops
    clerk = staff(node, "clerk")
    boss = staff(node, "supervisor")
    first, first_items = _bag(node, clerk, 2)
    second, (stuck, other) = _bag(node, clerk, 2)
    d = dsp.compose(ops, boss.principal, SITE, [first, second])
    hold = place_hold(node.ctx, boss.principal, {
        "scope": {"sites": [SITE]}, "reason": "police request", "advisory": "One item waits.",
    })  # fmt: skip
    release_hold(node.ctx, boss.principal, hold.id, {"items": [*first_items, other]})
    assert _states(node)[stuck] == "held" and _states(node)[other] == "in_receptacle"
    with pytest.raises(HeldError):
        dsp.close_despatch(ops, boss.principal, SITE, d.id, *FLIGHT)

    dsp.take_out(ops, boss.principal, SITE, d.id, second, "held item inside")
    rcp.reopen_receptacle(ops, boss.principal, SITE, second, "take the held one out")
    rcp.remove_item(ops, clerk.principal, SITE, second, stuck)
    closed = rcp.close_receptacle(ops, clerk.principal, SITE, second, 1000)
    again = dsp.compose(ops, boss.principal, SITE, [second])
    assert again.id != d.id and again.serial == d.serial + 1
    assert closed.s9[:20] == again.id
    for did in (d.id, again.id):
        dsp.close_despatch(ops, boss.principal, SITE, did, *FLIGHT)
        dsp.hand_over(ops, boss.principal, SITE, did, *FLIGHT)
    states = _states(node)
    assert states[stuck] == "held"
    assert {states[i] for i in [*first_items, other]} == {"in_transit"}
    live = node.rebuilder.projection_digest()  # the new events replay to the same tables
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live


def test_taking_out_the_last_bag_cancels_the_despatch_and_keeps_its_number(
    node: Container,
) -> None:
    """An empty despatch is cancelled; the bag composes again into the next number."""
    ops = node.site_ops
    clerk = staff(node, "clerk")
    boss = staff(node, "supervisor")
    bag, _ = _bag(node, clerk, 1)
    d = dsp.compose(ops, boss.principal, SITE, [bag])
    out = dsp.take_out(ops, boss.principal, SITE, d.id, bag, "wrong flight")
    assert (out.despatch.state, out.despatch.receptacle_count) == ("cancelled", 0)
    assert out.despatch.item_count == 0 and out.despatch.gross_weight_g == 0
    with pytest.raises(InvalidStateError):
        dsp.close_despatch(ops, boss.principal, SITE, d.id, *FLIGHT)
    with pytest.raises(InvalidStateError):
        dsp.despatch_bill(ops, boss.principal, SITE, d.id)
    again = dsp.compose(ops, boss.principal, SITE, [bag])
    assert again.serial == d.serial + 1
    assert [r.id for r in dsp.despatch_receptacles(ops, boss.principal, SITE, again.id)] == [bag]
    live = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live


def test_reasons_are_required_and_refusals_write_nothing(node: Container) -> None:
    """Missing, blank, too long or control-character reasons are ValidationErrors naming
    the field and rule; clerks are 403; a closed despatch and a bag in a despatch refuse."""
    ops = node.site_ops
    clerk = staff(node, "clerk")
    boss = staff(node, "supervisor")
    bag, _ = _bag(node, clerk, 1)
    d = dsp.compose(ops, boss.principal, SITE, [bag])
    other = staff(node, "supervisor", site="GBLGWA", name="boss.lgw")
    before = node.store.head(SITE)
    for bad, rule in [(None, "required"), ("  ", "min_length"), ("x" * 501, "max_length"),
                      ("a\x00b", "control_characters"), (7, "type")]:  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            dsp.take_out(ops, boss.principal, SITE, d.id, bag, bad)
        assert (caught.value.errors[0].field, caught.value.errors[0].rule) == ("reason", rule)
    with pytest.raises(ForbiddenError):
        dsp.take_out(ops, clerk.principal, SITE, d.id, bag, "a clerk tries")
    with pytest.raises(ForbiddenError):
        rcp.reopen_receptacle(ops, clerk.principal, SITE, bag, "a clerk tries")
    with pytest.raises(InvalidStateError, match="take it out of the despatch first"):
        rcp.reopen_receptacle(ops, boss.principal, SITE, bag, "in a despatch")
    with pytest.raises(NotFoundError):
        dsp.take_out(ops, boss.principal, SITE, d.id, "rcp_nope", "not there")
    with pytest.raises(NotFoundError):
        dsp.take_out(ops, other.principal, SITE, d.id, bag, "another site")
    assert node.store.head(SITE) == before
    dsp.close_despatch(ops, boss.principal, SITE, d.id, *FLIGHT)
    with pytest.raises(InvalidStateError, match="is closed"):
        dsp.take_out(ops, boss.principal, SITE, d.id, bag, "too late")


def test_a_reopened_bag_takes_the_free_serial_again(node: Container) -> None:
    """Bags 1, 2, 3 closed; 2 reopened and closed again: serials still run 1…3 and the
    despatch composes."""
    ops = node.site_ops
    clerk = staff(node, "clerk")
    boss = staff(node, "supervisor")
    bags = [_bag(node, clerk, 1)[0] for _ in range(3)]
    rcp.reopen_receptacle(ops, boss.principal, SITE, bags[1], "check the contents")
    closed = rcp.close_receptacle(ops, clerk.principal, SITE, bags[1], 1900)
    assert closed.s9[20:23] == "002"
    d = dsp.compose(ops, boss.principal, SITE, bags)
    assert d.receptacle_count == 3


@pytest.fixture
def http(node: Container) -> Iterator[TestClient]:
    with TestClient(create_app(node)) as c:
        yield c


def test_the_routes_answer_json_and_problems(node: Container, http: TestClient) -> None:
    """POST …/receptacles/{rid}/reopen and …/despatches/{did}/receptacles/{rid}/remove:
    a clerk is 403, a missing reason 422 naming the field, a supervisor 200."""
    clerk = staff(node, "clerk")
    boss = staff(node, "supervisor")
    bag, _ = _bag(node, clerk, 1)
    d = dsp.compose(node.site_ops, boss.principal, SITE, [bag])
    remove = f"/api/v1/sites/{SITE}/despatches/{d.id}/receptacles/{bag}/remove"
    r = http.post(remove, json={"reason": "wrong flight"}, headers=clerk.headers)
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    r = http.post(remove, json={}, headers=boss.headers)
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["rule"]) == ("reason", "required")
    r = http.post(remove, json={"reason": "wrong flight"}, headers=boss.headers)
    assert r.status_code == 200, r.text
    assert r.json()["despatch"]["state"] == "cancelled"
    assert r.json()["receptacle"]["links"]["cn35"].endswith("/cn35.pdf")
    reopen = f"/api/v1/sites/{SITE}/receptacles/{bag}/reopen"
    r = http.post(reopen, json={"reason": "x" * 501}, headers=boss.headers)
    assert r.status_code == 422 and r.json()["rule"] == "max_length"
    r = http.post(reopen, json={"reason": "recount"}, headers=boss.headers)
    assert r.status_code == 200 and r.json()["state"] == "open" and r.json()["s9"] is None
