"""Failover across logs without a transport: events of the lost site's log about a listed
item that a node applies after the listing change nothing, so every arrival order gives the
same item tables, and `postex rebuild` gives them again (docs/log-format.md, rule 6).

Heathrow (GBLALA) is lost after bagging an item that Gatwick (GBLGWA), which confirms the
failover, has not heard of: Heathrow applies its bag first and the listing second, Gatwick
the listing first and the bag second, Birmingham (GBBHXA) Gatwick's log before Heathrow's.
"""

from __future__ import annotations

from pathlib import Path

from postex.bootstrap import Container, replication
from postex.eventlog.sql.admin import execute_raw
from postex.sites.app import failover as fo
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.conftest import make_node
from tests.factories import SERIES, new_customer, new_items, staff

A, B, C = "GBLALA", "GBLGWA", "GBBHXA"


def _site(tmp_path: Path, code: str) -> Container:
    return make_node(tmp_path / code, f"sqlite:///{tmp_path / f'{code}.db'}", site=code,
                     role="site")  # fmt: skip


def _feed(dst: Container, src: Container, site: str) -> None:
    """``dst`` follows ``src``'s log up to its head (the follower's checks, no transport)."""
    events = list(src.store.read_events(site, dst.store.head(site)[0]))
    out = replication(dst).follower(dst.trusted_keys()).follower.hub.receive_events(site, events)
    assert out.fault is None and out.stored == len(events)


def _tables(node: Container) -> tuple[object, ...]:
    items = execute_raw(
        node.engine,
        "SELECT i.id, i.state, i.held_from, i.updated_at, i.version_site, i.version_seq,"
        " i.version_hash, h.site, h.receptacle_id,"
        " h.despatch_id, h.transfer_to FROM items i LEFT JOIN item_handling h"
        " ON h.item_id = i.id ORDER BY i.id",
    )
    bags = execute_raw(
        node.engine,
        "SELECT id, site, state, item_count, content_g FROM receptacles ORDER BY id",
    )
    rows = execute_raw(
        node.engine,
        "SELECT site, seq, item_id, code FROM tracking_events ORDER BY site, seq, item_id",
    )
    return tuple(map(tuple, items)), tuple(map(tuple, bags)), tuple(map(tuple, rows))


def test_lost_site_events_after_the_listing_change_nothing_in_any_order(tmp_path: Path) -> None:
    a, b, c = _site(tmp_path, A), _site(tmp_path, B), _site(tmp_path, C)
    customer = new_customer(a)
    loose, late = new_items(a, customer.record.id, n=2)
    heathrow = staff(a, "supervisor", A, "sup.heathrow")
    accept(a.site_ops, heathrow.principal, A, [Scan(i.id, i.weight_g) for i in (loose, late)])
    bag = rcp.open_receptacle(a.site_ops, heathrow.principal, A, **SERIES)
    _feed(b, a, A)  # Gatwick knows both items accepted and the bag open
    # Heathrow bags one item Gatwick has not heard of, then is lost.
    rcp.add_items(a.site_ops, heathrow.principal, A, bag.id, [late.id])
    one, two = staff(b, "ops", None, "ops.one"), staff(b, "ops", None, "ops.two")
    asked = fo.request_failover(b.site_ops, one.principal,
                                {"from_site": A, "to_site": B, "reason": "ransomware"})  # fmt: skip
    done = fo.confirm(b.site_ops, two.principal, asked.id)
    assert (done.item_count, done.receptacle_count) == (2, 1)

    _feed(a, b, B)  # Heathrow: its bag first, then the listing
    _feed(b, a, A)  # Gatwick: the listing first, then Heathrow's bag
    _feed(c, b, B)  # Birmingham: Gatwick's log (the listing) before Heathrow's
    _feed(c, a, A)
    at_a, at_b, at_c = _tables(a), _tables(b), _tables(c)
    assert at_a == at_b == at_c
    items, bags, _ = at_a
    assert [(r[1], r[7], r[8]) for r in items] == [("accepted", B, None)] * 2
    assert {r[4] for r in items} == {
        B
    }  # the version: the listing, in Gatwick's log, in every order
    assert bags == ((bag.id, A, "abandoned", 0, 0),)
    for node, live in ((a, at_a), (b, at_b), (c, at_c)):
        node.rebuilder.rebuild()
        assert _tables(node) == live
    for node in (a, b, c):
        node.close()


def _active(node: Container) -> list[tuple[object, ...]]:
    rows = execute_raw(node.engine, "SELECT from_site, to_site, failover_id FROM active_failovers")
    return [tuple(r) for r in rows]


def test_two_failovers_of_one_site_confirmed_concurrently_settle_alike(tmp_path: Path) -> None:
    """Gatwick fails Heathrow over to itself while Birmingham, not having heard of it, fails
    it over to Birmingham: on every node the first confirmed is in force and the items go
    where it says, whichever arrives first."""
    a, b, c = _site(tmp_path, A), _site(tmp_path, B), _site(tmp_path, C)
    customer = new_customer(a)
    items = new_items(a, customer.record.id, n=2)
    heathrow = staff(a, "supervisor", A, "sup.heathrow")
    accept(a.site_ops, heathrow.principal, A, [Scan(i.id, i.weight_g) for i in items])
    _feed(b, a, A)
    _feed(c, a, A)
    confirmed = []
    for node, to in ((b, B), (c, C)):
        one, two = (
            staff(node, "ops", None, f"ops.one.{to.lower()}"),
            staff(node, "ops", None, f"ops.two.{to.lower()}"),
        )
        asked = fo.request_failover(node.site_ops, one.principal,
                                    {"from_site": A, "to_site": to, "reason": "lost"})  # fmt: skip
        confirmed.append(fo.confirm(node.site_ops, two.principal, asked.id))
    _feed(b, c, C)  # Gatwick: its own first, then Birmingham's
    _feed(c, b, B)  # Birmingham: its own first, then Gatwick's
    _feed(a, c, C)  # Heathrow: Birmingham's first, then Gatwick's
    _feed(a, b, B)
    first = min(confirmed, key=lambda r: (r.confirmed_at, r.id))
    for node in (a, b, c):
        assert _active(node) == [(A, first.to_site, first.id)], node.settings.site
    assert _tables(a)[:2] == _tables(b)[:2] == _tables(c)[:2]
    assert {r[7] for r in _tables(b)[0]} == {first.to_site}
    for node in (a, b, c):
        live = _tables(node), _active(node)
        node.rebuilder.rebuild()
        assert (_tables(node), _active(node)) == live
        node.close()
