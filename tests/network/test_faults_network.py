"""NATS stopped during traffic, then started: the site keeps working and the hub converges."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from postex.bootstrap import replication
from postex.network.app.drill import Traffic
from postex.network.app.integrity import verify_store
from tests.factories import new_customer
from tests.network.conftest import Loops, OwnNats, pair, start_replication, wait_until

pytestmark = [pytest.mark.nats, pytest.mark.slow]


def test_nats_outage_during_traffic_then_exact_convergence(
    tmp_path: Path, own_nats: OwnNats, sqlite_hub_url: str, loops: Loops
) -> None:
    """While NATS is down the site keeps accepting and its lag grows; when NATS returns the hub
    catches up in order, without duplicates, to exactly the site's log."""
    site, hub = pair(tmp_path, own_nats.url, "postex", sqlite_hub_url, checkpoint_every=30)
    customer = new_customer(site)
    pub, _ = start_replication(loops, site, hub)
    traffic = Traffic(site.ctx, customer.record.id, batch=3, pause_s=0.02)
    traffic.start()
    wait_until(lambda: hub.store.head("GBLALA")[0] > 20, 20, "first events at the hub")
    own_nats.stop()
    before = traffic.items
    time.sleep(2.0)
    assert traffic.items > before  # the site keeps working
    head = site.store.head("GBLALA")[0]
    lag = head - replication(site).state.acked("GBLALA")
    assert lag > 0  # and its lag grows, visibly
    own_nats.start()
    time.sleep(1.0)
    traffic.stop()
    final = site.store.head("GBLALA")[0]
    wait_until(lambda: hub.store.head("GBLALA")[0] == final, 30, "hub to converge")
    wait_until(lambda: pub.acked == final, 10, "site to see its acknowledgements")
    assert hub.store.head("GBLALA") == site.store.head("GBLALA")
    assert verify_store(hub.store, hub.trusted_keys(), "GBLALA")[0].ok
    hub_events = [(e.seq, e.hash) for e in hub.store.read_events("GBLALA")]
    assert hub_events == [(e.seq, e.hash) for e in site.store.read_events("GBLALA")]
    assert replication(hub).state.alarms() == []
