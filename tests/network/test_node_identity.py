"""Every command knows its node: the site and role are the database's, never a default.

On a hub's database a CLI command without POSTEX_SITE used to write into the default site's
(GBLALA) log inside the hub's database; a contradicting POSTEX_SITE is now refused; the hub
issues S10 ids from its own serial slot, so every node of a network issues distinct ids.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex.bootstrap import Container, build
from postex.cli.main import app
from postex.config import load_settings
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.ids import S10
from postex.kernel.network import load_network
from postex.kernel.reference import services
from tests.conftest import make_node
from tests.factories import new_customer, new_items

SERVICES = ("tracked", "parcel", "express", "signed", "standard_letter")


def _cli(*args: str, **env: str | None) -> tuple[int, str, str]:
    base: dict[str, str | None] = {"POSTEX_ROLE": None, "POSTEX_SITE": None, "POSTEX_NATS_URL": ""}
    done = CliRunner().invoke(app, list(args), env={**base, **env})
    return done.exit_code, done.stdout, " ".join(done.output.split())


def _logs(node: Container) -> dict[str, int]:
    rows = execute_raw(node.engine, "SELECT site, count(*) FROM events GROUP BY site")
    return {str(site): int(n) for site, n in rows}


def test_a_command_on_the_hub_writes_into_the_hubs_own_log(tmp_path: Path, sqlite_url: str) -> None:
    """`postex customers create` on a hub's database without POSTEX_SITE writes into the
    hub's own log (HUB), never into a site's; with a site's POSTEX_SITE it is refused and
    writes nothing."""
    hub = make_node(tmp_path / "hub", sqlite_url, site="HUB", role="hub")
    before = _logs(hub)
    where = ["--db", sqlite_url, "--home", str(tmp_path / "hub")]
    code, stdout, text = _cli("customers", "create", "--name", "Acme", "--json", *where)
    assert code == 0, text
    assert json.loads(stdout)["id"]
    after = _logs(hub)
    assert "GBLALA" not in after and after.get("HUB", 0) > before.get("HUB", 0), after
    for env in ({"POSTEX_SITE": "GBLALA"}, {"POSTEX_ROLE": "single"}):
        code, stdout, text = _cli("customers", "create", "--name", "Other", "--json", *where, **env)
        assert code == 2, text
        assert "this database belongs to" in text, text
        assert json.loads(stdout)["ok"] is False
        assert _logs(hub) == after
    hub.close()


def test_a_site_refuses_a_contradicting_site_and_writes_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    site = make_node(tmp_path / "s", sqlite_url, site="GBLGWA", role="site")
    before = _logs(site)
    where = ["--db", sqlite_url, "--home", str(tmp_path / "s")]
    code, _, text = _cli("customers", "create", "--name", "Acme", *where, POSTEX_SITE="GBLALA")
    assert code == 2, text
    assert "belongs to site GBLGWA" in text and "runs as site GBLALA" in text, text
    assert _logs(site) == before
    code, _, text = _cli("customers", "create", "--name", "Acme", *where)  # the database's
    assert code == 0, text
    assert set(_logs(site)) == {"GBLGWA"}
    code, _, text = _cli("holds", "list", *where, POSTEX_SITE="GBLALA")
    assert code == 2 and "belongs to site GBLGWA" in text, text
    site.close()


def test_a_database_without_a_recorded_role_must_be_told(tmp_path: Path, sqlite_url: str) -> None:
    """The test template is migrated but records no role: an ordinary command refuses to
    guess, `postex init --role hub` records the hub (site HUB) and commands follow it."""
    home = tmp_path / "n"
    keys = load_settings(home=str(home), db_url=f"sqlite:///{tmp_path / 'keys.db'}")
    build(keys, create=True, claim=False).close()  # the key files, elsewhere no record
    where = ["--db", sqlite_url, "--home", str(home)]
    code, _, text = _cli("customers", "create", "--name", "Acme", *where)
    assert code == 2 and "no recorded node role" in text and "postex init --role" in text, text
    code, _, text = _cli("init", "--role", "hub", *where)
    assert code == 0 and "hub node for site HUB" in text, text
    node = build(load_settings(db_url=sqlite_url, home=str(home)))
    assert (node.settings.role, node.settings.site) == ("hub", "HUB")
    assert node.ctx.serial_slot == load_network().serial_slot("HUB")
    node.close()


def test_every_node_of_a_network_issues_distinct_ids(tmp_path: Path, sqlite_url: str) -> None:
    """A hub and three sites each pre-advise items of every service: no id is issued twice,
    and each node's ids lie in its own slot (the hub's is distinct from every site's)."""
    nodes = [make_node(tmp_path / "hub", sqlite_url, site="HUB", role="hub")]
    for code in ("GBLALA", "GBLGWA", "GBBHXA"):
        url = f"sqlite:///{tmp_path / (code + '.db')}"
        nodes.append(make_node(tmp_path / code, url, site=code, role="site"))
    issued: dict[str, list[str]] = {}
    try:
        for node in nodes:
            customer = new_customer(node).record.id
            issued[node.settings.site] = [
                rec.id for svc in SERVICES for rec in new_items(node, customer, 5, service=svc)
            ]
    finally:
        for node in nodes:
            node.close()
    every = [i for ids in issued.values() for i in ids]
    assert len(every) == len(set(every)) == 4 * 25
    network = load_network()
    for site, ids in issued.items():
        slot = network.serial_slot(site)
        for text in ids:
            s10 = S10.parse(text)
            svc = services().by_prefix(s10.prefix)
            assert svc is not None
            low, high = slot.block(svc.serial_first, svc.serial_last)
            assert low <= s10.serial <= high, (site, text)


def test_the_hubs_own_log_is_verified_like_the_sites(tmp_path: Path, sqlite_url: str) -> None:
    """Pre-advice taken at the hub (the usual gateway) is in the hub's own log, HUB, signed
    by the hub's key: `postex verify --hub` and `postex verify` check it and pass."""
    hub = make_node(tmp_path / "hub", sqlite_url, site="HUB", role="hub", checkpoint_every=5)
    ids = [r.id for r in new_items(hub, new_customer(hub).record.id, 12)]
    hub.close()
    assert len(set(ids)) == 12
    where = ["--db", sqlite_url, "--home", str(tmp_path / "hub")]
    for args in (["verify", "--hub", "--json"], ["verify", "--json"]):
        code, stdout, text = _cli(*args, *where)
        assert code == 0, text
        sites = {s["site"]: s for s in json.loads(stdout)["sites"]}
        assert set(sites) == {"HUB"} and sites["HUB"]["head_seq"] > 12, sites
    code, stdout, text = _cli("verify", "--json", *where)
    assert json.loads(stdout)["sites"][0]["checkpoints_checked"] >= 1, stdout  # signed by HUB


def test_another_gateway_issues_ids_from_its_own_slot(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway added to the network file (code GW2, slot 6) runs as a node of the network
    with its own log and its own part of every block."""
    doc = json.loads((files("postex.data") / "network.json").read_text("utf-8"))
    doc["gateways"].append({"code": "GW2", "name": "Second gateway", "serial_slot": 6})
    path = tmp_path / "network.json"
    path.write_text(json.dumps(doc), "utf-8")
    network = load_network(path)
    monkeypatch.setattr("postex.bootstrap.load_network", lambda: network)
    gateway = make_node(tmp_path / "gw2", sqlite_url, site="GW2", role="site")
    try:
        ids = [r.id for r in new_items(gateway, new_customer(gateway).record.id, 3)]
        assert set(_logs(gateway)) == {"GW2"}
    finally:
        gateway.close()
    slot = network.serial_slot("GW2")
    assert slot.slot == 6
    for text in ids:
        s10 = S10.parse(text)
        svc = services().by_prefix(s10.prefix)
        assert svc is not None
        low, high = slot.block(svc.serial_first, svc.serial_last)
        assert low <= s10.serial <= high, text


def test_a_new_site_must_be_named(tmp_path: Path, sqlite_url: str) -> None:
    """`postex init --role site` without --site would make another GBLALA: refused."""
    where = ["--db", sqlite_url, "--home", str(tmp_path / "s")]
    code, _, text = _cli("init", "--role", "site", *where)
    assert code == 2 and "needs its site code" in text, text
    code, _, text = _cli("init", "--role", "site", "--site", "GBLGWA", *where)
    assert code == 0 and "site node for site GBLGWA" in text, text
    code, _, text = _cli("init", *where)  # again: the database says what it is
    assert code == 0 and "site node for site GBLGWA" in text, text
