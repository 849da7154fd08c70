"""The node's role is recorded in its database: commands that run the node refuse another.

Also: a single node becoming a site must hold no ids outside the site's serial slot, and a
worker on the hub runs none of the sites' chores (it writes no events).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex.accounts.app.auth import Role
from postex.bootstrap import Container, build, replication
from postex.cli.main import app
from postex.config import load_settings
from postex.eventlog.sql.admin import execute_raw
from postex.incidents.app.holds import place_hold
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import parse_pre_advice
from postex.kernel.errors import ConfigurationError
from postex.kernel.network import load_network
from tests.conftest import make_node
from tests.factories import ManualClock, item_payload, new_customer, new_items
from tests.incidents.incident_helpers import accept_items, staff


def _run(*args: str, role: str | None = "single", site: str | None = None) -> tuple[int, str, str]:
    # The site is the database's unless a test gives one (None unsets POSTEX_SITE).
    env = {"POSTEX_ROLE": role, "POSTEX_SITE": site, "POSTEX_NATS_URL": ""}
    done = CliRunner().invoke(app, list(args), env=env)
    return done.exit_code, done.stdout, " ".join(done.output.split())


def _cli(*args: str, role: str | None = "single", site: str | None = None) -> tuple[int, str]:
    code, _, text = _run(*args, role=role, site=site)
    return code, text


def _recorded(node: Container) -> tuple[object, ...]:
    return tuple(execute_raw(node.engine, "SELECT role, site, previous_role FROM node_role")[0])


def test_the_role_given_at_initialisation_is_recorded_and_a_contradiction_refused(
    tmp_path: Path, db_url: str
) -> None:
    hub = make_node(tmp_path / "hub", db_url, site="HUB", role="hub")
    assert _recorded(hub) == ("hub", "HUB", None)
    hub.close()
    for role in ("single", "site"):
        settings = load_settings(home=str(tmp_path / "hub"), db_url=db_url, role=role)
        with pytest.raises(ConfigurationError) as refused:
            build(settings, claim=True)
        text = str(refused.value)
        assert "belongs to a hub node" in text and f"runs with role {role}" in text
        assert "POSTEX_ROLE" in text
    again = make_node(tmp_path / "hub", db_url, site="HUB", role="hub")  # the right role
    assert _recorded(again) == ("hub", "HUB", None)
    again.close()


def test_a_database_from_before_the_record_takes_its_role_from_its_own_tables(
    tmp_path: Path, db_url: str
) -> None:
    """A hub database upgraded to migration 0014 (no role row yet) but with witnesses or an
    arrival journal is a hub: first started as a single node it is refused, not recorded."""
    hub = make_node(tmp_path / "hub", db_url, site="HUB", role="hub")
    execute_raw(hub.engine, "DELETE FROM node_role")
    execute_raw(
        hub.engine, "INSERT INTO hub_arrivals (site, first_seq, last_seq) VALUES ('GBLALA', 1, 1)"
    )
    hub.close()
    settings = load_settings(home=str(tmp_path / "hub"), db_url=db_url, role="single")
    with pytest.raises(ConfigurationError, match=r"belongs to a hub node .* role single"):
        build(settings, claim=True)
    check = build(settings)
    assert execute_raw(check.engine, "SELECT count(*) FROM node_role")[0][0] == 0
    check.close()


def test_cli_commands_that_run_a_hub_refuse_another_role(tmp_path: Path, sqlite_url: str) -> None:
    """rebuild, worker, serve and replicate on a hub database with another role exit 2
    naming both roles, and rebuild changes nothing; with role hub, rebuild runs."""
    hub = make_node(tmp_path / "hub", sqlite_url, site="HUB", role="hub")
    site = make_node(tmp_path / "s", f"sqlite:///{tmp_path / 's.db'}", role="site")
    new_items(site, new_customer(site).record.id, 2)
    replication(hub).hub({}).receive_events("GBLALA", list(site.store.read_events("GBLALA")))
    site.close()
    live = hub.rebuilder.projection_digest()
    where = ["--db", sqlite_url, "--home", str(tmp_path / "hub")]
    for args in (["rebuild"], ["worker", "--once"], ["serve", "--port", "1"]):
        code, text = _cli(*args, *where)
        assert code == 2, (args, text)
        assert "belongs to a hub node" in text and "runs with role single" in text, text
    code, text = _cli("replicate", "--nats", "nats://127.0.0.1:1", *where, role="site")
    assert code == 2 and "belongs to a hub node" in text and "role site" in text, text
    assert hub.rebuilder.projection_digest() == live
    code, text = _cli("rebuild", *where, role="hub")
    assert code == 0, text
    assert hub.rebuilder.projection_digest() == live
    hub.close()


def test_hub_consume_refuses_a_site_database(tmp_path: Path, sqlite_url: str) -> None:
    site = make_node(tmp_path / "s", sqlite_url, role="site")
    site.close()
    where = ["--db", sqlite_url, "--home", str(tmp_path / "s")]
    code, text = _cli("hub", "consume", "--nats", "nats://127.0.0.1:1", *where, role="site")
    assert code == 2 and "belongs to a site node" in text and "role hub" in text, text


def test_a_site_database_refuses_another_site(tmp_path: Path, sqlite_url: str) -> None:
    make_node(tmp_path / "s", sqlite_url, role="site").close()
    settings = load_settings(
        home=str(tmp_path / "s"), db_url=sqlite_url, role="site", site="GBLGWA"
    )
    with pytest.raises(ConfigurationError, match=r"belongs to site GBLALA .* as site GBLGWA"):
        build(settings, claim=True)


def test_a_single_node_whose_ids_fit_its_slot_becomes_a_site(tmp_path: Path, db_url: str) -> None:
    single = make_node(tmp_path / "n", db_url)
    assert _recorded(single) == ("single", "GBLALA", None)
    new_items(single, new_customer(single).record.id, 3)  # serials 10000000… : slot 0
    single.close()
    as_site = make_node(tmp_path / "n", db_url, role="site")
    assert _recorded(as_site) == ("site", "GBLALA", "single")
    as_site.close()
    settings = load_settings(home=str(tmp_path / "n"), db_url=db_url, role="single")
    with pytest.raises(ConfigurationError, match=r"belongs to a site node .* role single"):
        build(settings, claim=True)  # and never back


def test_a_single_node_with_ids_outside_the_sites_slot_is_refused_as_a_site(
    tmp_path: Path, db_url: str
) -> None:
    """Gatwick (slot 1) ran as a single node, issuing from the start of each block: those
    ids are Heathrow's part. Started as a site it is refused, naming service, slot and range,
    and stays a single node; `postex network check` says the same."""
    home = tmp_path / "n"
    single = make_node(home, db_url, site="GBLGWA")
    new_items(single, new_customer(single).record.id, 2, service="tracked")
    single.close()
    with pytest.raises(ConfigurationError) as refused:
        make_node(home, db_url, site="GBLGWA", role="site")
    text = str(refused.value)
    assert "site GBLGWA" in text and "serial slot 1 of 8" in text
    assert "2 id(s) issued with serials 10000000…10000001" in text
    assert "outside the slot's part 21250000…32499999" in text
    check = build(load_settings(home=str(home), db_url=db_url, site="GBLGWA"))
    assert _recorded(check) == ("single", "GBLGWA", None)
    check.close()
    if "sqlite" in db_url:
        where = ["--db", db_url, "--home", str(home)]
        code, stdout, out = _run("network", "check", "--json", "--site", "GBLGWA", *where)
        assert code == 2 and "serial slot 1 of 8" in out, out
        report = json.loads(stdout)
        assert report["ok"] is False and report["recorded_role"] == "single"
        assert report["outside_slot"] == [
            {"services": ["tracked"], "prefix": "LA", "part": [21250000, 32499999],
             "count": 2, "lowest": 10000000, "highest": 10000001}
        ]  # fmt: skip
        code, out = _cli("network", "check", "--site", "GBLALA", *where)
        assert code == 0 and "fits site GBLALA's serial slot 0 of 8" in out, out


def test_ids_above_the_slot_are_found_too(tmp_path: Path, db_url: str) -> None:
    """Ids past the end of the site's part (more than the slot holds) also overlap."""
    single = make_node(tmp_path / "n", db_url)
    far = dataclasses.replace(single.ctx, serial_slot=load_network().serial_slot("GBMIKA"))
    advice = parse_pre_advice(item_payload(service="tracked"))
    [rec] = pre_advise(far, new_customer(single).record.id, [advice])
    single.close()
    with pytest.raises(ConfigurationError, match=r"1 id\(s\) issued with serials 66250000"):
        make_node(tmp_path / "n", db_url, role="site")
    assert rec.id[2:10] == "66250000"


def test_worker_on_a_hub_runs_no_site_chores(tmp_path: Path, sqlite_url: str) -> None:
    """A hold scheduled at a site, due by now, copied to the hub: `postex worker` on the hub
    activates nothing there (the site does) and the hub writes no event of its own."""
    past = ManualClock(datetime.now(UTC) - timedelta(hours=1))
    site = build(
        load_settings(home=str(tmp_path / "s"), db_url=f"sqlite:///{tmp_path / 's.db'}",
                      site="GBLALA", role="site", webhook_worker_seconds=0),
        create=True, clock=past,
    )  # fmt: skip
    items = [i.id for i in new_items(site, new_customer(site).record.id, 1)]
    accept_items(site, items)
    boss, _ = staff(site, "usr_sup", Role.SUPERVISOR, site="GBLALA")
    scope = {"scope": {"sites": ["GBLALA"]}, "reason": "power cut", "advisory": "Paused."}
    start = past.now() + timedelta(minutes=30)
    place_hold(site.ctx, boss, {**scope, "starts_at": start.isoformat()})
    events = list(site.store.read_events("GBLALA"))
    site.close()
    hub = make_node(tmp_path / "hub", sqlite_url, site="HUB", role="hub")
    replication(hub).hub({}).receive_events("GBLALA", events)
    assert execute_raw(hub.engine, "SELECT count(*) FROM holds WHERE activated_at IS NULL")[0][0]
    hub.close()
    where = ["--db", sqlite_url, "--home", str(tmp_path / "hub")]
    code, text = _cli("worker", "--once", *where, role="hub", site="HUB")
    assert code == 0 and "a hub has no worker chores" in text, text
    hub = make_node(tmp_path / "hub", sqlite_url, site="HUB", role="hub")
    assert set(hub.store.sites()) == {"GBLALA"}  # no log of the hub's own
    assert hub.store.head("GBLALA")[0] == len(events)
    assert execute_raw(hub.engine, "SELECT count(*) FROM hold_items")[0][0] == 0
    hub.close()


def test_node_role_table_matches_its_declaration(tmp_path: Path, db_url: str) -> None:
    from sqlalchemy import inspect

    from postex.network.sql.tables import node_role

    node = make_node(tmp_path / "n", db_url)
    found = inspect(node.engine).get_columns("node_role")
    assert [(c["name"], c["nullable"]) for c in found] == [
        (c.name, c.nullable) for c in node_role.columns
    ]
    node.close()


def test_a_site_holding_items_other_nodes_issued_still_claims_its_role(
    tmp_path: Path, db_url: str
) -> None:
    """Fan-out puts the items the hub issued (its slot, log HUB) in a site's tables: the
    site's slot check counts only the ids of its own log, so `postex rebuild` (which claims
    the role) runs on a site that follows other nodes; its own ids outside are still refused."""
    site = make_node(tmp_path / "n", db_url, role="site")
    hub_ctx = dataclasses.replace(
        site.ctx, site="HUB", serial_slot=load_network().serial_slot("HUB")
    )
    advice = parse_pre_advice(item_payload(service="tracked"))
    [copied] = pre_advise(hub_ctx, new_customer(site).record.id, [advice])  # as followed
    site.close()
    assert copied.id[2:10] == "88750000"
    again = make_node(tmp_path / "n", db_url, role="site")  # claims the role: no refusal
    assert _recorded(again) == ("site", "GBLALA", None)
    far = dataclasses.replace(again.ctx, serial_slot=load_network().serial_slot("GBMIKA"))
    pre_advise(far, new_customer(again).record.id, [advice])  # its own log, outside its slot
    again.close()
    with pytest.raises(ConfigurationError, match=r"1 id\(s\) issued with serials 66250000"):
        make_node(tmp_path / "n", db_url, role="site")
