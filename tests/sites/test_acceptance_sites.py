"""Acceptance away from an office of exchange, and holds that catch items already bagged."""

from __future__ import annotations

import pytest

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.errors import HeldError, InvalidStateError
from postex.sites.app import despatches as dsp
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.factories import SERIES, SITE, letters, staff


@pytest.mark.sqlite_only
def test_a_site_that_is_not_an_office_of_exchange_records_ema_only(node: Container) -> None:
    """Belfast accepts (EMA) into its own log; EMB follows only where mail is exchanged."""
    clerk = staff(node, "clerk", "GBBELC")
    item = letters(node, 1, 0)[0]
    done = accept(node.site_ops, clerk.principal, "GBBELC", [Scan(item.id, 860)])
    assert done[0].events == ("EMA",)
    rows = execute_raw(
        node.engine,
        "SELECT site, code, office FROM tracking_events WHERE item_id = ? AND code LIKE 'EM%'",
        (item.id,),
    )
    assert rows == [("GBBELC", "EMA", "GBBELC")]
    assert node.store.head("GBBELC")[0] >= 1


@pytest.mark.sqlite_only
def test_an_item_held_after_bagging_stops_the_despatch_closing(node: Container) -> None:
    """If a bagged item becomes held, closing its despatch is refused and nothing moves."""
    clerk, boss = staff(node, "clerk"), staff(node, "supervisor")
    ops = node.site_ops
    items = letters(node, 2, 0)
    accept(ops, clerk.principal, SITE, [Scan(i.id, i.weight_g) for i in items])
    bag = rcp.open_receptacle(ops, clerk.principal, SITE, **SERIES)
    rcp.add_items(ops, clerk.principal, SITE, bag.id, [i.id for i in items])
    closed = rcp.close_receptacle(ops, clerk.principal, SITE, bag.id, 2000, last=True)
    with pytest.raises(InvalidStateError):
        rcp.remove_item(ops, clerk.principal, SITE, bag.id, items[0].id)
    d = dsp.compose(ops, boss.principal, SITE, [closed.s9])
    execute_raw(node.engine, "UPDATE items SET state = 'held' WHERE id = ?", (items[1].id,))
    before = node.store.head(SITE)
    with pytest.raises(HeldError):
        dsp.close_despatch(ops, boss.principal, SITE, d.id, "BA", "BA0117", "2026-11-24")
    assert node.store.head(SITE) == before
    assert dsp.get_despatch(ops, boss.principal, SITE, d.id).state == "open"


@pytest.mark.sqlite_only
def test_a_held_item_taken_out_of_its_bag_stays_held(node: Container) -> None:
    """Setting a held item aside keeps it held; its release brings it back as accepted."""
    clerk = staff(node, "clerk")
    ops = node.site_ops
    item = letters(node, 1, 0)[0]
    accept(ops, clerk.principal, SITE, [Scan(item.id, item.weight_g)])
    bag = rcp.open_receptacle(ops, clerk.principal, SITE, **SERIES)
    rcp.add_items(ops, clerk.principal, SITE, bag.id, [item.id])
    execute_raw(
        node.engine,
        "UPDATE items SET state = 'held', held_from = 'in_receptacle' WHERE id = ?",
        (item.id,),
    )
    emptied = rcp.remove_item(ops, clerk.principal, SITE, bag.id, item.id)
    assert emptied.item_count == 0
    row = execute_raw(node.engine, "SELECT state, held_from FROM items WHERE id = ?", (item.id,))
    assert row == [("held", "accepted")]
