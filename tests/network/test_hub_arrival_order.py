"""The hub rebuilds its projections in the order its copies arrived, as it applied them live.

A partner event ingested at one site for an item issued at another can reach the hub before
or after the item: the projections differ (quarantined then attached, or attached at once),
so a rebuild merging the sites by recorded time would not give the live tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from postex.accounts.app.auth import Principal, Role
from postex.accounts.app.partners import create_partner
from postex.bootstrap import Container, replication
from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.admin import execute_raw
from postex.network.app.hub import Hub
from postex.tracking.app.partner_events import ingest_partner_events, parse_json_batch
from tests.conftest import make_node
from tests.factories import new_customer, new_items


def _network(tmp_path: Path) -> tuple[list[StoredEvent], list[StoredEvent], str]:
    """Heathrow pre-advises an item; Gatwick then records a partner scan of it (unknown there,
    so kept for the item's appearance). Returns both logs and the item id."""
    heathrow = make_node(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}", site="GBLALA")
    gatwick = make_node(tmp_path / "b", f"sqlite:///{tmp_path / 'b.db'}", site="GBLGWA")
    [item] = new_items(heathrow, new_customer(heathrow).record.id)
    partner = create_partner(gatwick.ctx, "USPS", ("USJFKA",)).record
    who = Principal("partner", partner.id, Role.PARTNER, "k", offices=partner.offices)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    rows = parse_json_batch(
        {"events": [{"item_id": item.id, "event_code": "EMD", "occurred_at": at,
                     "office": "USJFKA"}]}
    )  # fmt: skip
    assert ingest_partner_events(gatwick.ctx, who, rows).quarantined == 1
    logs = list(heathrow.store.read_events("GBLALA")), list(gatwick.store.read_events("GBLGWA"))
    assert logs[0][-1].recorded_at < logs[1][-1].recorded_at  # the item first, by the clock
    heathrow.close()
    gatwick.close()
    return logs[0], logs[1], item.id


def _rows(hub: Container, sql: str) -> list[tuple[object, ...]]:
    with hub.store.read() as uow:
        return [tuple(r) for r in uow.conn.exec_driver_sql(sql).all()]


@pytest.mark.parametrize("hub_db", ["sqlite_hub_url", "pg_hub_url"])
@pytest.mark.parametrize("position", [0, 1, 2])
def test_hub_rebuild_equals_live_whichever_site_arrives_first(
    tmp_path: Path, hub_db: str, position: int, request: pytest.FixtureRequest
) -> None:
    heathrow, gatwick, item_id = _network(tmp_path)
    hub = make_node(tmp_path / "hub", request.getfixturevalue(hub_db), site="HUB", role="hub")
    rep = replication(hub)
    h: Hub = rep.hub({})
    # Heathrow's copy arrives in two messages, the item's pre-advice in the second;
    # Gatwick's scan arrives before, between or after them.
    split = next(i for i, e in enumerate(heathrow) if e.type.startswith("item.pre_advised"))
    arrivals = [("GBLALA", heathrow[:split]), ("GBLALA", heathrow[split:])]
    arrivals.insert(position, ("GBLGWA", gatwick))
    for site, events in arrivals:
        assert h.receive_events(site, events).stored == len(events)
    partner_first = position < 2
    quarantine = _rows(hub, "SELECT status FROM partner_quarantine")
    assert quarantine == ([("attached",)] if partner_first else [])
    tracked = _rows(hub, "SELECT item_id, code FROM tracking_events WHERE source = 'partner'")
    assert tracked == [(item_id, "EMD")]
    live = hub.rebuilder.projection_digest()

    if partner_first:  # merged by recorded time, the scan would find the item at once
        hub.rebuilder.rebuild()
        assert hub.rebuilder.projection_digest() != live
        assert _rows(hub, "SELECT status FROM partner_quarantine") == []
    assert rep.rebuild_hub() == len(heathrow) + len(gatwick)
    assert hub.rebuilder.projection_digest() == live
    assert _rows(hub, "SELECT status FROM partner_quarantine") == quarantine
    hub.close()


def test_postex_rebuild_on_a_hub_replays_in_arrival_order(
    tmp_path: Path, sqlite_hub_url: str
) -> None:
    from typer.testing import CliRunner

    from postex.cli.main import app

    heathrow, gatwick, _ = _network(tmp_path)
    hub = make_node(tmp_path / "hub", sqlite_hub_url, site="HUB", role="hub")
    h = replication(hub).hub({})
    h.receive_events("GBLGWA", gatwick)  # the scan first: quarantined, then attached
    h.receive_events("GBLALA", heathrow)
    live = hub.rebuilder.projection_digest()
    args = ["rebuild", "--db", sqlite_hub_url, "--home", str(tmp_path / "hub")]
    done = CliRunner().invoke(app, args, env={"POSTEX_ROLE": "hub"})
    assert done.exit_code == 0, done.output
    assert hub.rebuilder.projection_digest() == live
    hub.close()


def test_arrivals_stored_before_a_crash_are_journalled_before_the_next(tmp_path: Path) -> None:
    """Events stored but not journalled (a crash between the two) are journalled, at their
    place, before the next arrival; a site's history from before the journal comes first."""
    heathrow, gatwick, _ = _network(tmp_path)
    hub = make_node(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub.db'}", site="HUB", role="hub")
    rep = replication(hub)
    hub.admin.import_events("GBLGWA", gatwick)  # before the journal existed (or crashed)
    h = rep.hub({})
    h.receive_events("GBLALA", heathrow[:2])
    hub.admin.import_events("GBLALA", heathrow[2:3])  # stored, then the hub died
    h = rep.hub({})  # restarted
    h.receive_events("GBLALA", heathrow[3:])
    assert _rows(hub, "SELECT site, first_seq, last_seq FROM hub_arrivals ORDER BY n") == [
        ("GBLALA", 1, 2),
        ("GBLALA", 3, 3),
        ("GBLALA", 4, len(heathrow)),
    ]
    live = hub.rebuilder.projection_digest()
    rep.rebuild_hub()
    assert hub.rebuilder.projection_digest() == live
    # A journal row lost altogether: its events are replayed with the site's next run.
    execute_raw(hub.engine, "DELETE FROM hub_arrivals WHERE first_seq = 3")
    assert rep.rebuild_hub() == len(heathrow) + len(gatwick)
    assert hub.rebuilder.projection_digest() == live
    hub.close()


def test_hub_arrivals_table_matches_its_declaration(tmp_path: Path, sqlite_hub_url: str) -> None:
    from postex.network.sql.tables import hub_arrivals

    hub = make_node(tmp_path / "hub", sqlite_hub_url, site="HUB", role="hub")
    found = inspect(hub.engine)
    assert [c["name"] for c in found.get_columns("hub_arrivals")] == [
        c.name for c in hub_arrivals.columns
    ]
    hub.close()
