"""Failover over real NATS: a hub and two sites follow each other. Heathrow (GBLALA) is
destroyed with items accepted, one of them in a bag; two operations leads fail it over to
Gatwick (GBLGWA) at the hub; Gatwick follows the hub's log, re-bags a moved item in its own
receptacle and despatches it; Heathrow restored from the hub learns what moved by following
the other logs and refuses to scan, bag or send the moved items, and its abandoned bag
cannot be closed.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from postex.bootstrap import Container, replication
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.errors import InvalidStateError, ValidationError
from postex.network.app.restore import restore_site
from postex.network.cli.ransomware import Loops
from postex.sites.app import despatches as dsp
from postex.sites.app import failover as fo
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from postex.sites.app.routing import which_bag
from postex.sites.app.transfers import transfer_out
from postex.tracking.app.webhooks import subscribe
from tests.conftest import make_node
from tests.factories import SERIES, new_customer, new_items, staff
from tests.network.conftest import trust, wait_until

pytestmark = pytest.mark.nats

A, B, HUB = "GBLALA", "GBLGWA", "HUB"


def _node(home: Path, db: Path, code: str, nats_url: str, prefix: str, role: str) -> Container:
    return make_node(home, f"sqlite:///{db}", site=code, role=role, nats_url=nats_url,
                     nats_prefix=prefix)  # fmt: skip


def _joined(tmp_path: Path, hub: Container, code: str, nats_url: str, prefix: str) -> Container:
    """A site initialised under the hub's KEK (copied before its first start)."""
    (tmp_path / code / "keys").mkdir(parents=True, mode=0o700)
    shutil.copy(hub.settings.keys_dir / "kek.json", tmp_path / code / "keys" / "kek.json")
    return _node(tmp_path / code, tmp_path / f"{code}.db", code, nats_url, prefix, "site")


def _start(loops: Loops, node: Container) -> list[object]:
    rep = replication(node)
    follow = rep.consumer if node.settings.role == "hub" else rep.follower
    return [loops.start(rep.publisher().run), loops.start(follow(node.trusted_keys()).run)]


def _follows(node: Container, other: Container, log: str) -> bool:
    return bool(node.store.head(log) == other.store.head(log))


def _where(node: Container, item_id: str) -> tuple[object, ...]:
    rows = execute_raw(
        node.engine,
        "SELECT i.state, h.site, h.receptacle_id FROM items i JOIN item_handling h"
        f" ON h.item_id = i.id WHERE i.id = '{item_id}'",
    )
    return tuple(rows[0])


def _told(node: Container) -> list[str]:
    rows = execute_raw(
        node.engine,
        "SELECT item_id FROM webhook_deliveries WHERE event_type = 'item.site_changed'",
    )
    return [str(r[0]) for r in rows]


def test_failover_at_the_hub_survivor_despatches_restored_site_refuses(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    hub = _node(tmp_path / HUB, tmp_path / "hub.db", HUB, nats_url, prefix, "hub")
    a = _joined(tmp_path, hub, A, nats_url, prefix)
    b = _joined(tmp_path, hub, B, nats_url, prefix)
    nodes = {HUB: hub, A: a, B: b}
    for node in nodes.values():
        for other_name, other in nodes.items():
            if other is not node:
                trust(node, other, other_name)
    customer = new_customer(a)
    subscribe(a.ctx, customer.record.id, "https://hooks.example.com/postex")
    loose, bagged = new_items(a, customer.record.id, n=2)
    heathrow = staff(a, "supervisor", A, "sup.heathrow")
    accept(a.site_ops, heathrow.principal, A, [Scan(i.id, i.weight_g) for i in (loose, bagged)])
    old_bag = rcp.open_receptacle(a.site_ops, heathrow.principal, A, **SERIES)
    rcp.add_items(a.site_ops, heathrow.principal, A, old_bag.id, [bagged.id])
    a.admin.checkpoint_now(A)
    running = {name: _start(loops, node) for name, node in nodes.items()}
    for node in (hub, b):
        wait_until(lambda node=node: _follows(node, a, A), 30, "Heathrow's log everywhere")

    # Heathrow is destroyed.
    for stop in running[A]:
        loops.stop_one(stop)  # type: ignore[arg-type]
    a.close()
    db = tmp_path / f"{A}.db"
    db.write_bytes(os.urandom(db.stat().st_size))

    # Two operations leads fail it over to Gatwick at the hub.
    one, two = staff(hub, "ops", None, "ops.one"), staff(hub, "ops", None, "ops.two")
    asked = fo.request_failover(hub.site_ops, one.principal,
                                {"from_site": A, "to_site": B, "reason": "ransomware"})  # fmt: skip
    confirmed_at = time.monotonic()
    done = fo.confirm(hub.site_ops, two.principal, asked.id)
    assert (done.item_count, done.receptacle_count) == (2, 1)

    # Gatwick follows the hub's log: the items are its own, US mail leaves from it.
    wait_until(lambda: _follows(b, hub, HUB), 30, "Gatwick to follow the hub's log")
    gatwick = staff(b, "supervisor", B, "sup.gatwick")
    assert _where(b, bagged.id) == ("accepted", B, None)
    # The customer is told once, by the survivor (a hub queues no webhooks).
    assert sorted(_told(b)) == sorted([loose.id, bagged.id]) and _told(hub) == []
    wait_until(lambda: which_bag(b.site_ops, gatwick.principal, B, loose.id).leaves_here, 5,
               "Gatwick's routing to follow the failover")  # fmt: skip
    bag = rcp.open_receptacle(b.site_ops, gatwick.principal, B, **SERIES)
    rcp.add_items(b.site_ops, gatwick.principal, B, bag.id, [loose.id, bagged.id])
    assert time.monotonic() - confirmed_at < 60
    shut = rcp.close_receptacle(b.site_ops, gatwick.principal, B, bag.id,
                                loose.weight_g + bagged.weight_g + 300)  # fmt: skip
    assert shut.s9.startswith(B)
    d = dsp.compose(b.site_ops, gatwick.principal, B, [bag.id])
    dsp.close_despatch(b.site_ops, gatwick.principal, B, d.id, "BA", "BA0117", "2026-12-31")
    assert _where(b, loose.id)[0] == "despatched"
    wait_until(lambda: _follows(hub, b, B), 30, "the hub to follow Gatwick")

    # Heathrow restored from the hub: its own log back, the others by following.
    restored = _node(tmp_path / A, tmp_path / "restored.db", A, nats_url, prefix, "site")
    source = replication(hub).hub_source(f"sqlite:///{tmp_path / 'hub.db'}", hub.ctx.clock)
    rep = replication(restored)
    restore_site(restored.store, restored.admin, rep.state, A, source, restored.trusted_keys(),
                 rep.now)  # fmt: skip
    source.store.dispose()
    _start(loops, restored)
    for log, origin in ((HUB, hub), (B, b)):
        wait_until(lambda log=log, origin=origin: _follows(restored, origin, log), 30, log)
    assert _where(restored, loose.id)[:2] == ("despatched", B)
    clerk = staff(restored, "supervisor", A, "sup.heathrow.restored")
    ops = restored.site_ops
    with pytest.raises(ValidationError) as rescan:
        accept(ops, clerk.principal, A, [Scan(bagged.id, bagged.weight_g)])
    assert B in rescan.value.errors[0].message and bagged.id == rescan.value.errors[0].value
    with pytest.raises(InvalidStateError) as reuse:
        rcp.close_receptacle(ops, clerk.principal, A, old_bag.id, 1000)
    assert reuse.value.extra["rule"] == "receptacle_abandoned"
    with pytest.raises(ValidationError) as send:
        transfer_out(ops, clerk.principal, A, B, [bagged.id])
    assert send.value.errors[0].rule == "state_despatched"
    with pytest.raises(ValidationError):  # US mail does not leave from Heathrow now
        rcp.open_receptacle(ops, clerk.principal, A, **SERIES)
    loops.close()
    for node in (hub, b, restored):
        live = node.rebuilder.projection_digest()
        node.rebuilder.rebuild()
        assert node.rebuilder.projection_digest() == live
        node.close()
