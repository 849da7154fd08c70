"""The hub queues no webhook deliveries: each site delivers its own customers' webhooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from postex.bootstrap import Container, replication
from postex.network.app.hub import Hub
from postex.tracking.app.webhooks import deliver_due, subscribe
from tests.conftest import make_node
from tests.factories import new_customer, new_items


def _count(node: Container, table: str) -> int:
    with node.store.read() as uow:
        return int(uow.conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0)


@pytest.mark.parametrize("hub_db", ["sqlite_hub_url", "pg_hub_url"])
def test_hub_copies_subscriptions_but_queues_no_deliveries_and_rebuild_equals_live(
    tmp_path: Path, hub_db: str, request: pytest.FixtureRequest
) -> None:
    site = make_node(tmp_path / "site", f"sqlite:///{tmp_path / 'site.db'}", site="GBLALA")
    hub = make_node(tmp_path / "hub", request.getfixturevalue(hub_db), site="HUB", role="hub")
    customer = new_customer(site).record.id
    subscribe(site.ctx, customer, "http://127.0.0.1:9/hook", advisories=True, allow_private=True)
    new_items(site, customer, n=3)
    # The site delivers (the receiver is down: failed attempts, recorded in its log).
    attempted = deliver_due(site.ctx, site.webhook_sender_factory(True))
    queued = _count(site, "webhook_deliveries")
    assert queued == 3 and attempted >= 1 and _count(site, "webhook_attempts") == attempted

    h: Hub = replication(hub).hub({})
    events = list(site.store.read_events("GBLALA"))
    assert h.receive_events("GBLALA", events).stored == len(events)
    assert _count(hub, "webhook_subscriptions") == 1  # the copy has the subscription …
    assert _count(hub, "webhook_deliveries") == 0  # … but nothing to deliver
    assert _count(hub, "webhook_attempts") == 0
    with hub.store.read() as uow:
        failures = uow.conn.exec_driver_sql(
            "SELECT consecutive_failures FROM webhook_subscriptions"
        ).scalar()
    assert failures == attempted  # the sites' attempt outcomes still reach the hub's copy
    assert deliver_due(hub.ctx, hub.webhook_sender_factory(True)) == 0

    live = hub.rebuilder.projection_digest()
    replication(hub).rebuild_hub()
    assert hub.rebuilder.projection_digest() == live
    assert _count(hub, "webhook_deliveries") == 0
    # The same log on a node that is not a hub queues the deliveries (the flag, not the data).
    single = make_node(tmp_path / "single", f"sqlite:///{tmp_path / 'single.db'}", site="HUB")
    replication(single).hub({}).receive_events("GBLALA", events)
    assert _count(single, "webhook_deliveries") == queued
    for node in (site, hub, single):
        node.close()
