"""`postex network up` starts a real network on loopback (NATS, a hub, sites); `down` stops
every process it started. Pre-advice at the hub lands in the hub's own log, from its own
serial slot; a site's pre-advice reaches the hub by replication."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from postex.kernel.errors import ConfigurationError
from postex.kernel.ids import S10
from postex.kernel.network import load_network
from postex.kernel.reference import services
from postex.network.box import alive, nats_server
from tests.factories import item_payload
from tests.network.netbox import http, postex


def _postex(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return postex(*args, timeout=timeout, **env)


def _customer_key(node: dict[str, str]) -> str:
    """A customer created on ``node`` by the CLI, told nothing but the node's database."""
    done = _postex("customers", "create", "--name", "Acme", "--json",
                   POSTEX_HOME=node["home"], POSTEX_DB_URL=node["db_url"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["api_key"])


def _in_slot(site: str, item_id: str) -> bool:
    s10 = S10.parse(item_id)
    svc = services().by_prefix(s10.prefix)
    assert svc is not None
    low, high = load_network().serial_slot(site).block(svc.serial_first, svc.serial_last)
    return low <= s10.serial <= high


def test_network_up_pre_advise_at_the_hub_replicate_and_down(tmp_path: Path) -> None:
    try:
        nats_server()
    except ConfigurationError:
        pytest.skip("no nats-server on this machine")
    box = tmp_path / "box"
    up = _postex("network", "up", "--sites", "2", "--dir", str(box), "--json", "--no-seed",
                 timeout=240)  # fmt: skip
    state: dict[str, Any] = {}
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        state = json.loads(up.stdout)
        assert (box / "network.json").stat().st_mode & 0o777 == 0o600
        assert box.stat().st_mode & 0o777 == 0o700
        nodes = {n["site"]: n for n in state["nodes"]}
        assert [(n["site"], n["role"]) for n in state["nodes"]] == [
            ("HUB", "hub"),
            ("GBLALA", "site"),
            ("GBLGWA", "site"),
        ]
        hub, heathrow = nodes["HUB"], nodes["GBLALA"]
        status, item = http("POST", f"{hub['url']}/api/v1/items", item_payload(),
                             _customer_key(hub))  # fmt: skip
        assert status == 201, item
        assert _in_slot("HUB", item["id"]) and not _in_slot("GBLALA", item["id"])
        assert http("GET", f"{hub['url']}/api/v1/tracking/{item['id']}")[0] == 200
        status, site_item = http("POST", f"{heathrow['url']}/api/v1/items", item_payload(),
                                  _customer_key(heathrow))  # fmt: skip
        assert status == 201 and _in_slot("GBLALA", site_item["id"]), site_item
        deadline, seen = time.monotonic() + 60, 0
        while time.monotonic() < deadline and seen != 200:
            seen = http("GET", f"{hub['url']}/api/v1/tracking/{site_item['id']}")[0]
            time.sleep(0.3)
        assert seen == 200, "Heathrow's pre-advice never reached the hub"
        done = _postex("network", "status", "--dir", str(box), "--json")
        report = json.loads(done.stdout)
        assert report["up"] is True and {n["readyz"] for n in report["nodes"]} == {200}
    finally:
        down = _postex("network", "down", "--dir", str(box), "--json", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    pids = [p["pid"] for p in state.get("processes", [])]
    assert len(pids) == 8  # NATS, a link per node, the hub's consumer and server, 2 sites
    assert not [pid for pid in pids if alive(pid)]
    assert not list((box / "run").glob("*.pid"))


def _staff_token(node: dict[str, str], username: str, role: str, site: str = "") -> str:
    """A staff user created on ``node`` by the CLI; its API token."""
    done = _postex("users", "create", "--username", username, "--role", role,
                   *(["--site", site] if site else []), "--json",
                   POSTEX_HOME=node["home"], POSTEX_DB_URL=node["db_url"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["token"])


def _scan(site: dict[str, str], item_id: str, token: str, wait: float = 45) -> tuple[int, Any]:
    """Scan-accept ``item_id`` at ``site``, retried while the site does not know it yet."""
    url = f"{site['url']}/api/v1/sites/{site['site']}/acceptances"
    deadline = time.monotonic() + wait
    while True:
        status, body = http("POST", url, {"item_id": item_id, "weight_g": 850}, token)
        unknown = status == 422 and "unknown_item" in json.dumps(body)
        if not unknown or time.monotonic() > deadline:
            return status, body
        time.sleep(0.3)


def test_network_up_fans_the_hubs_preadvice_and_holds_out_to_the_sites(tmp_path: Path) -> None:
    """Issue #14's reproduction through `network up`: an item pre-advised at the hub (log
    HUB) is accepted at Gatwick (201, not unknown_item); a US hold placed and confirmed at
    the hub (two ops users) is listed in Gatwick's advisories and holds a US item there."""
    try:
        nats_server()
    except ConfigurationError:
        pytest.skip("no nats-server on this machine")
    box = tmp_path / "box"
    up = _postex("network", "up", "--sites", "2", "--dir", str(box), "--json", "--no-seed",
                 timeout=240)  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        nodes = {n["site"]: n for n in json.loads(up.stdout)["nodes"]}
        hub, gatwick = nodes["HUB"], nodes["GBLGWA"]
        for node in nodes.values():  # one network KEK, shared before the first init
            assert (Path(node["home"]) / "keys" / "kek.json").read_bytes() == (
                Path(hub["home"]) / "keys" / "kek.json"
            ).read_bytes()
        customer = _customer_key(hub)
        status, item = http("POST", f"{hub['url']}/api/v1/items", item_payload(), customer)
        assert status == 201, item
        status, later = http("POST", f"{hub['url']}/api/v1/items", item_payload(), customer)
        assert status == 201, later
        clerk = _staff_token(gatwick, "clerk.lgw", "clerk", "GBLGWA")
        status, accepted = _scan(gatwick, item["id"], clerk)
        assert status == 201, accepted
        # A US export hold at the hub: placed by one ops user, confirmed by another.
        lead, second = _staff_token(hub, "ops.lead", "ops"), _staff_token(hub, "ops.two", "ops")
        hold_body = {"scope": {"destinations": ["US"]}, "reason": "US customs outage",
                     "advisory": "Exports to the United States are paused."}  # fmt: skip
        status, hold = http("POST", f"{hub['url']}/api/v1/holds", hold_body, lead)
        assert status == 201, hold
        status, confirmed = http("POST", f"{hub['url']}/api/v1/holds/{hold['id']}/confirm",
                                  None, second)  # fmt: skip
        assert status == 200, confirmed
        deadline, texts = time.monotonic() + 45, []
        while time.monotonic() < deadline and not texts:
            texts = [a["text"] for a in http("GET", f"{gatwick['url']}/api/v1/advisories")[1]]
            time.sleep(0.3)
        assert texts == ["Exports to the United States are paused."]
        # A US item pre-advised at the hub before the hold is held at Gatwick's counter, and
        # the hub no longer takes new US pre-advice.
        assert http("POST", f"{hub['url']}/api/v1/items", item_payload(), customer)[0] == 409
        status, refused = _scan(gatwick, later["id"], clerk)
        assert status == 409 and refused["type"].endswith("export-held"), (status, refused)
    finally:
        down = _postex("network", "down", "--dir", str(box), "--json", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr


def test_status_and_down_without_a_network_print_one_json_error(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from postex.cli.main import app

    for command in ("status", "down"):
        done = CliRunner().invoke(app, ["network", command, "--dir", str(tmp_path), "--json"])
        lines = done.stdout.splitlines()
        assert done.exit_code == 2 and len(lines) == 1, done.output
        doc = json.loads(lines[0])
        assert doc["ok"] is False and "no network state file" in doc["error"]["detail"]
