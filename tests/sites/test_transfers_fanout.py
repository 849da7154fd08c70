"""A transfer across two real nodes over real JetStream: accepted at Gatwick, sent to
Heathrow in Gatwick's log, followed by Heathrow, scanned in and bagged there; both nodes
end with the same item tables, and a rebuild gives what the live run gave."""

from __future__ import annotations

from pathlib import Path

import pytest

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.network.cli.ransomware import Loops
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from postex.sites.app.transfers import receive, transfer_out
from tests.factories import SERIES, new_customer, new_items, staff
from tests.network.conftest import loops, nats_url, prefix, wait_until  # noqa: F401
from tests.network.test_fanout import _caught_up, _network, _run

pytestmark = pytest.mark.nats

HEATHROW, GATWICK = "GBLALA", "GBLGWA"


def _where(node: Container, item_id: str) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in execute_raw(
            node.engine,
            "SELECT i.state, h.site, h.transfer_to FROM items i JOIN item_handling h"
            " ON h.item_id = i.id WHERE i.id = ?",
            [item_id],
        )
    ]


def test_a_transfer_between_two_nodes(
    tmp_path: Path,
    nats_url: str,  # noqa: F811
    prefix: str,  # noqa: F811
    loops: Loops,  # noqa: F811
) -> None:
    heathrow, gatwick = _network(tmp_path, nats_url, prefix)
    customer = new_customer(heathrow)
    item = new_items(heathrow, customer.record.id, n=1)[0]
    _run(loops, heathrow)
    _run(loops, gatwick)
    wait_until(lambda: _caught_up(gatwick, heathrow, HEATHROW), what="Gatwick follows Heathrow")
    g_clerk = staff(gatwick, "clerk", site=GATWICK)
    accept(gatwick.site_ops, g_clerk.principal, GATWICK, [Scan(item.id, item.weight_g)])
    transfer_out(gatwick.site_ops, g_clerk.principal, GATWICK, HEATHROW, [item.id])
    wait_until(lambda: _caught_up(heathrow, gatwick, GATWICK), what="Heathrow follows Gatwick")
    assert _where(heathrow, item.id) == [("accepted", GATWICK, HEATHROW)]
    h_clerk = staff(heathrow, "clerk", site=HEATHROW)
    receive(heathrow.site_ops, h_clerk.principal, HEATHROW, [item.id])
    bag = rcp.open_receptacle(heathrow.site_ops, h_clerk.principal, HEATHROW, **SERIES)
    rcp.add_items(heathrow.site_ops, h_clerk.principal, HEATHROW, bag.id, [item.id])
    wait_until(lambda: _caught_up(gatwick, heathrow, HEATHROW), what="Gatwick follows back")
    for node in (heathrow, gatwick):
        assert _where(node, item.id) == [("in_receptacle", HEATHROW, None)]
        codes = execute_raw(
            node.engine,
            "SELECT code, office FROM tracking_events WHERE item_id = ? AND code IN"
            " ('EMK', 'EMB') ORDER BY occurred_utc, seq",
            [item.id],
        )
        assert [tuple(c) for c in codes] == [("EMB", GATWICK), ("EMK", GATWICK),
                                             ("EMB", HEATHROW)]  # fmt: skip
    loops.close()
    for node in (heathrow, gatwick):
        live = node.rebuilder.projection_digest()
        node.rebuilder.rebuild()
        assert node.rebuilder.projection_digest() == live
