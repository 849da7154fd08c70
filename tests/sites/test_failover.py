"""Failover of a lost site: two operations leads, the items and receptacles that move, the
routing that follows, bad input refused, failback; on SQLite and PostgreSQL.

One node plays every site (each writes its own log), as in tests/sites/test_transfers.py:
Heathrow (GBLALA, where US mail leaves) is lost, Gatwick (GBLGWA) survives.
"""

from __future__ import annotations

from typing import Any

import pytest

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.errors import (
    ConflictError,
    ForbiddenError,
    InvalidStateError,
    NotFoundError,
    PostexError,
    ValidationError,
)
from postex.sites.app import despatches as dsp
from postex.sites.app import failover as fo
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from postex.sites.app.routing import which_bag
from postex.sites.app.transfers import transfer_out
from postex.tracking.app.webhooks import subscribe
from tests.factories import SERIES, ManualClock, Staff, make_caller, new_items, staff

LOST, SURVIVOR = "GBLALA", "GBLGWA"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _leads(node: Container) -> tuple[Staff, Staff]:
    return staff(node, "ops", None, "ops.one"), staff(node, "ops", None, "ops.two")


def _handling(node: Container, item_id: str) -> tuple[Any, ...]:
    rows = execute_raw(
        node.engine,
        "SELECT i.state, h.site, h.receptacle_id FROM items i JOIN item_handling h"
        f" ON h.item_id = i.id WHERE i.id = '{item_id}'",
    )
    return tuple(rows[0])


def _count(node: Container, sql: str) -> int:
    return int(execute_raw(node.engine, sql)[0][0])


def _rule(exc: PostexError) -> str:
    if isinstance(exc, ValidationError):
        return exc.errors[0].rule
    return str(exc.extra["rule"])


def test_failover_moves_items_abandons_receptacles_and_reroutes(node: Container) -> None:
    ops = node.site_ops
    one, two = _leads(node)
    heathrow = staff(node, "supervisor", LOST, "sup.heathrow")
    gatwick = staff(node, "supervisor", SURVIVOR, "sup.gatwick")
    caller = make_caller(node, "failover customer")
    subscribe(node.ctx, caller.id, "https://hooks.example.com/postex")
    loose, bagged, closed, despatched = new_items(node, caller.id, 4)
    accept(ops, heathrow.principal, LOST,
           [Scan(i.id, i.weight_g) for i in (loose, bagged, closed, despatched)])  # fmt: skip
    open_bag = rcp.open_receptacle(ops, heathrow.principal, LOST, **SERIES)
    rcp.add_items(ops, heathrow.principal, LOST, open_bag.id, [bagged.id])
    shut = rcp.open_receptacle(ops, heathrow.principal, LOST, **SERIES)
    rcp.add_items(ops, heathrow.principal, LOST, shut.id, [closed.id])
    rcp.close_receptacle(ops, heathrow.principal, LOST, shut.id, closed.weight_g + 500)
    gone = rcp.open_receptacle(ops, heathrow.principal, LOST, **SERIES)
    rcp.add_items(ops, heathrow.principal, LOST, gone.id, [despatched.id])
    rcp.close_receptacle(ops, heathrow.principal, LOST, gone.id, despatched.weight_g + 500)
    d = dsp.compose(ops, heathrow.principal, LOST, [gone.id, shut.id])
    # the despatch holds both closed bags; close it before the failover with only `gone`:
    dsp.take_out(ops, heathrow.principal, LOST, d.id, shut.id, "left for the next flight")
    dsp.close_despatch(ops, heathrow.principal, LOST, d.id, "BA", "BA0117", "2026-12-06")
    later = dsp.compose(ops, heathrow.principal, LOST, [shut.id])  # composed, not closed
    assert which_bag(ops, gatwick.principal, SURVIVOR, loose.id).origin == LOST

    ask = {"from_site": LOST, "to_site": SURVIVOR, "reason": "ransomware"}
    asked = fo.request_failover(ops, one.principal, ask)
    assert asked.status(node.ctx.clock.now()) == "pending"
    assert which_bag(ops, gatwick.principal, SURVIVOR, loose.id).origin == LOST  # not yet
    with pytest.raises(ForbiddenError) as same:
        fo.confirm(ops, one.principal, asked.id)
    assert _rule(same.value) == "two_person"
    done = fo.confirm(ops, two.principal, asked.id)
    assert done.status(node.ctx.clock.now()) == "active"
    assert (done.item_count, done.receptacle_count) == (3, 2)  # not the despatched one

    for item in (loose, bagged, closed):
        assert _handling(node, item.id) == ("accepted", SURVIVOR, None)
    assert _handling(node, despatched.id)[:2] == ("despatched", LOST)
    states = dict(execute_raw(node.engine, "SELECT id, state FROM receptacles"))
    assert (states[open_bag.id], states[shut.id], states[gone.id]) == (
        "abandoned", "abandoned", "in_despatch")  # fmt: skip
    assert _count(node, "SELECT COUNT(*) FROM tracking_events WHERE code = 'EMK'") == 3
    moved = execute_raw(node.engine, "SELECT item_id, payload FROM webhook_deliveries"
                        " WHERE event_type = 'item.site_changed' ORDER BY item_id")  # fmt: skip
    assert sorted(r[0] for r in moved) == sorted(i.id for i in (loose, bagged, closed))
    assert f'"site":"{SURVIVOR}"' in moved[0][1]

    # Routing follows: US mail leaves from Gatwick now; Heathrow opens no US bag.
    advice = which_bag(ops, gatwick.principal, SURVIVOR, loose.id)
    assert (advice.origin, advice.leaves_here) == (SURVIVOR, True)
    with pytest.raises(ValidationError):
        rcp.open_receptacle(ops, heathrow.principal, LOST, **SERIES)
    # The survivor re-bags a moved item in its own receptacle, with its own S9.
    bag = rcp.open_receptacle(ops, gatwick.principal, SURVIVOR, **SERIES)
    rcp.add_items(ops, gatwick.principal, SURVIVOR, bag.id, [loose.id, bagged.id])
    closed_bag = rcp.close_receptacle(ops, gatwick.principal, SURVIVOR, bag.id, 2000)
    assert closed_bag.s9.startswith(SURVIVOR)
    # The lost site (restored, say) acts on nothing that moved.
    with pytest.raises(InvalidStateError) as shut_again:
        rcp.close_receptacle(ops, heathrow.principal, LOST, open_bag.id, 1000)
    assert _rule(shut_again.value) == "receptacle_abandoned"
    with pytest.raises(ValidationError) as rescan:
        accept(ops, heathrow.principal, LOST, [Scan(closed.id, closed.weight_g)])
    assert SURVIVOR in rescan.value.errors[0].message
    with pytest.raises(ValidationError) as compose:
        dsp.compose(ops, heathrow.principal, LOST, [shut.id])
    assert _rule(compose.value) == "state_abandoned"
    with pytest.raises(InvalidStateError) as fly:
        dsp.close_despatch(ops, heathrow.principal, LOST, later.id, "BA", "BA0117", "2026-12-06")
    assert _rule(fly.value) == "receptacle_abandoned"
    with pytest.raises(ValidationError) as send:
        transfer_out(ops, heathrow.principal, LOST, SURVIVOR, [closed.id])
    assert (_rule(send.value), SURVIVOR in send.value.errors[0].message) == ("not_at_site", True)
    with pytest.raises(ValidationError) as resend:  # bagged at the survivor meanwhile
        transfer_out(ops, heathrow.principal, LOST, SURVIVOR, [loose.id])
    refusal = resend.value.errors[0]
    assert (refusal.rule, f"handled at {SURVIVOR}" in refusal.message) == (
        "state_in_receptacle", True)  # fmt: skip

    # Failback: routes leave from Heathrow again; moved items stay at Gatwick.
    back = fo.request_failback(ops, two.principal, {"site": LOST, "reason": "restored"})
    with pytest.raises(ForbiddenError):
        fo.confirm(ops, two.principal, back.id)
    fo.confirm(ops, one.principal, back.id)
    assert which_bag(ops, gatwick.principal, SURVIVOR, closed.id).origin == LOST
    assert _handling(node, closed.id)[1] == SURVIVOR
    home_bag = rcp.open_receptacle(ops, heathrow.principal, LOST, **SERIES)  # routed again
    with pytest.raises(ValidationError) as rebag:  # what moved stays with the survivor
        rcp.add_items(ops, heathrow.principal, LOST, home_bag.id, [loose.id])
    refusal = rebag.value.errors[0]
    assert (refusal.rule, f"handled at {SURVIVOR}" in refusal.message) == (
        "state_in_receptacle", True)  # fmt: skip
    listed = {r.id: r.status(node.ctx.clock.now()) for r in fo.list_failovers(ops, one.principal)}
    assert listed == {asked.id: "ended", back.id: "done"}

    # A rebuild gives the same tables.
    before = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == before


def test_bad_requests_are_refused_and_write_nothing(node: Container, clock: ManualClock) -> None:
    ops = node.site_ops
    one, two = _leads(node)
    clerk = staff(node, "clerk", LOST, "clerk.heathrow")
    ask = {"from_site": LOST, "to_site": SURVIVOR, "reason": "ransomware"}
    head = node.store.head(node.ctx.site)
    cases: list[tuple[Any, str]] = [
        ({**ask, "from_site": "XXXXXX"}, "unknown_site"),
        ({**ask, "to_site": 7}, "unknown_site"),
        ({**ask, "to_site": LOST}, "same_site"),
        ({**ask, "to_site": "GBBELC"}, "not_office_of_exchange"),
        ({**ask, "reason": ""}, "min_length"),
        ("not an object", "type"),
    ]
    for payload, rule in cases:
        with pytest.raises(ValidationError) as bad:
            fo.request_failover(ops, one.principal, payload)
        assert bad.value.errors[0].rule == rule, payload
    with pytest.raises(ForbiddenError):
        fo.request_failover(ops, clerk.principal, ask)
    with pytest.raises(ConflictError) as not_over:
        fo.request_failback(ops, one.principal, {"site": LOST, "reason": "restored"})
    assert _rule(not_over.value) == "not_failed_over"
    with pytest.raises(NotFoundError):
        fo.confirm(ops, two.principal, "fov_00000000000000000000")
    assert node.store.head(node.ctx.site) == head  # nothing written

    first = fo.request_failover(ops, one.principal, ask)
    with pytest.raises(ConflictError) as twice:
        fo.request_failover(ops, two.principal, ask)
    assert _rule(twice.value) == "request_pending"
    clock.advance(minutes=16)
    with pytest.raises(InvalidStateError) as late:
        fo.confirm(ops, two.principal, first.id)
    assert _rule(late.value) == "confirmation_expired"
    again = fo.request_failover(ops, one.principal, ask)  # the expired one no longer blocks
    fo.confirm(ops, two.principal, again.id)
    with pytest.raises(InvalidStateError) as confirmed:
        fo.confirm(ops, two.principal, again.id)
    assert _rule(confirmed.value) == "already_confirmed"
    with pytest.raises(ConflictError) as already:
        fo.request_failover(ops, one.principal, ask)
    assert _rule(already.value) == "already_failed_over"
    with pytest.raises(ConflictError) as survivor:
        fo.request_failover(ops, one.principal, {**ask, "from_site": "GBCVTA", "to_site": LOST})
    assert _rule(survivor.value) == "survivor_failed_over"
