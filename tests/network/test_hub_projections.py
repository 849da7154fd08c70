"""The hub projects what it stores: tracking for the whole network, rebuild equals live."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container, replication
from postex.eventlog.events import StoredEvent
from postex.items.app.preadvice import cancel_item
from postex.network.app.hub import Hub
from postex.server import create_app
from postex.tracking.app.public import public_tracking
from tests.conftest import make_node
from tests.factories import new_customer, new_items
from tests.network.conftest import Loops, trust, wait_until

pytestmark = pytest.mark.nats


def _network(
    tmp_path: Path, nats_url: str, prefix: str, hub_url: str
) -> tuple[Container, Container, Container]:
    """Heathrow and Gatwick (sites, SQLite) replicating to a hub on ``hub_url``."""
    sites = [
        make_node(
            tmp_path / code,
            f"sqlite:///{tmp_path / (code + '.db')}",
            site=code,
            role="site",
            nats_url=nats_url,
            nats_prefix=prefix,
        )
        for code in ("GBLALA", "GBLGWA")
    ]
    hub = make_node(
        tmp_path / "hub", hub_url, site="HUB", role="hub", nats_url=nats_url, nats_prefix=prefix
    )
    for site in sites:
        trust(hub, site, site.settings.site)
        trust(site, hub, "HUB")
    return sites[0], sites[1], hub


@pytest.mark.parametrize("hub_db", ["sqlite_hub_url", "pg_hub_url"])
def test_hub_tracks_items_of_every_site_and_rebuild_equals_live(
    tmp_path: Path,
    nats_url: str,
    prefix: str,
    loops: Loops,
    hub_db: str,
    request: pytest.FixtureRequest,
) -> None:
    heathrow, gatwick, hub = _network(tmp_path, nats_url, prefix, request.getfixturevalue(hub_db))
    a_customer = new_customer(heathrow).record.id
    b_customer = new_customer(gatwick, "Gatwick Goods Ltd").record.id
    a_items = new_items(heathrow, a_customer, n=40)
    b_items = new_items(gatwick, b_customer, n=40, service="parcel")
    for site in (heathrow, gatwick):
        loops.start(replication(site).publisher().run)
    loops.start(replication(hub).consumer(hub.trusted_keys()).run)
    # More business while replicating: items, and state changes of items already copied.
    a_items += new_items(heathrow, a_customer, n=15)
    cancel_item(heathrow.ctx, a_customer, a_items[0].id)
    cancel_item(gatwick.ctx, b_customer, b_items[3].id)
    b_items += new_items(gatwick, b_customer, n=15, service="parcel")

    def converged() -> bool:
        return all(
            hub.store.head(s.settings.site) == s.store.head(s.settings.site)
            for s in (heathrow, gatwick)
        )

    wait_until(converged, 40, "the hub to hold both sites' logs")
    assert not {i.id for i in a_items} & {i.id for i in b_items}
    assert replication(hub).state.alarms() == []

    # Tracking on the hub answers for items of both sites, as each site does.
    with TestClient(create_app(hub)) as client:
        for site, item in ((heathrow, a_items[0]), (gatwick, b_items[3]), (gatwick, b_items[-1])):
            got = client.get(f"/api/v1/tracking/{item.id}")
            assert got.status_code == 200, got.text
            mine = public_tracking(site.ctx, item.id)
            assert got.json()["status"] == mine.status
            assert [e["code"] for e in got.json()["events"]] == [e.code for e in mine.events]
        assert client.get(f"/api/v1/tracking/{a_items[0].id}").json()["status"] == "cancelled"
    with hub.store.read() as uow:
        count = uow.conn.exec_driver_sql("SELECT count(*) FROM items").scalar()
    assert count == len(a_items) + len(b_items)

    loops.close()
    live = hub.rebuilder.projection_digest()
    replication(hub).rebuild_hub()
    assert hub.rebuilder.projection_digest() == live
    for node in (heathrow, gatwick, hub):
        node.close()


def test_events_a_projection_refuses_are_still_copied_and_raise_an_alarm(
    tmp_path: Path, sqlite_hub_url: str
) -> None:
    """Two sites misconfigured onto one serial slot issue the same id: the hub keeps both
    logs verbatim (the copy comes first), leaves the clash unprojected and raises an alarm."""
    one = make_node(tmp_path / "one", f"sqlite:///{tmp_path / 'one.db'}", site="GBLALA")
    two = make_node(tmp_path / "two", f"sqlite:///{tmp_path / 'two.db'}", site="GBLGWA")
    hub = make_node(tmp_path / "hub", sqlite_hub_url, site="HUB", role="hub")
    new_items(one, new_customer(one).record.id, n=2)
    new_items(two, new_customer(two).record.id, n=2)  # single nodes: the same two ids
    rep = replication(hub)
    h: Hub = rep.hub({})
    for site in (one, two):
        code = site.settings.site
        events: list[StoredEvent] = list(site.store.read_events(code))
        out = h.receive_events(code, events)
        assert out.stored == len(events) and out.fault is None
        assert hub.store.head(code) == site.store.head(code)
    alarms = rep.state.alarms()
    assert [(a.site, a.kind) for a in alarms] == [("GBLGWA", "projection-failed")]
    assert "postex rebuild" in alarms[0].detail
    with hub.store.read() as uow:
        origins = uow.conn.exec_driver_sql("SELECT DISTINCT origin_site FROM items").all()
    assert origins == [("GBLALA",)]
    for node in (one, two, hub):
        node.close()
