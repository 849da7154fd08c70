"""Every command with `--json` prints exactly one JSON document on stdout — on success and
on every error — so a script never has to parse a human table or a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from postex.cli.main import app

runner = CliRunner()
# Commands whose --json run is covered elsewhere: they build networks or run for minutes.
# `network up/down/status` (no --home): tests/network/test_network_box.py; `network
# cut/reconnect/stop/start`: tests/network/test_faults_multisite.py; `bench network`
# (needs NATS): tests/bench/test_bench_network.py.
ELSEWHERE = {
    "bench manifest",
    "bench network",
    "drill ransomware",
    "network up",
    "network down",
    "network status",
    "network cut",
    "network reconnect",
    "network stop",
    "network start",
}


def json_commands() -> set[str]:
    found: set[str] = set()

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(None):
                walk(command.get_command(None, name), [*path, name])
        elif any("--json" in getattr(p, "opts", ()) for p in command.params):
            found.add(" ".join(path))

    walk(typer.main.get_command(app), [])
    return found


def _run(home: Path, *args: str) -> tuple[int, Any]:
    result = runner.invoke(app, [*args, "--json", "--home", str(home)])
    lines = result.stdout.splitlines()
    assert len(lines) == 1, f"{args}: {result.stdout!r} {result.stderr!r}"
    return result.exit_code, json.loads(lines[0])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("json-home")
    assert runner.invoke(app, ["init", "--home", str(where)]).exit_code == 0
    return where


def test_every_json_command_prints_one_document_right_or_wrong(home: Path) -> None:
    _, customer = _run(home, "customers", "create", "--name", "Json Test Ltd")
    _, user = _run(home, "users", "create", "--username", "j.auditor", "--role", "auditor")
    _, partner = _run(home, "partners", "create", "--name", "Json Post", "--impc", "USJFKA")
    cus, usr, prt = customer["id"], user["id"], partner["id"]
    bogus = home / "bogus-token"
    bogus.write_text("bogus\n")
    runs: dict[str, list[tuple[str, ...]]] = {
        "verify": [("verify",)],
        "audit": [("audit",)],
        "restore": [("restore", "--site", "GBLALA", "--from", str(home / "no-backup"))],
        "customers create": [("customers", "create", "--name", "")],
        "customers list": [("customers", "list")],
        "customers keys list": [("customers", "keys", "list", cus),
                                ("customers", "keys", "list", "cus_nope")],
        "customers keys revoke": [("customers", "keys", "revoke", cus, "nokey")],
        "customers keys rotate": [("customers", "keys", "rotate", cus)],
        "customers users create": [("customers", "users", "create", "--customer", cus,
                                    "--username", "anna")],
        "customers users list": [("customers", "users", "list", "--customer", cus),
                                 ("customers", "users", "list", "--customer", "cus_nope")],
        "customers erase": [("customers", "erase", "cus_nope", "--yes"),
                            ("customers", "erase", "cus_nope")],
        "users create": [("users", "create", "--username", "j.auditor", "--role", "auditor")],
        "users list": [("users", "list")],
        "users disable": [("users", "disable", "j.auditor", "--reason", "left"),
                          ("users", "disable", "j.auditor", "--reason", "again")],
        "users enable": [("users", "enable", "j.auditor", "--reason", "back"),
                         ("users", "enable", "nobody.here", "--reason", "who")],
        "users password": [("users", "password", "j.auditor", "--password-stdin"),
                           ("users", "password", "nobody.here")],
        "users sessions list": [("users", "sessions", "list", "j.auditor")],
        "users sessions end": [("users", "sessions", "end", "j.auditor", "--reason", "shift"),
                               ("users", "sessions", "end", "j.auditor", "--reason", "")],
        "users keys list": [("users", "keys", "list", usr)],
        "users keys revoke": [("users", "keys", "revoke", usr, "nokey")],
        "users keys rotate": [("users", "keys", "rotate", usr)],
        "holds place": [("holds", "place", "--reason", "test", "--token-file", str(bogus))],
        "holds list": [("holds", "list")],
        "holds confirm": [("holds", "confirm", "hld_nope", "--token-file", str(bogus))],
        "holds release": [("holds", "release", "hld_nope", "--token-file", str(bogus))],
        "holds held": [("holds", "held")],
        "sites failover confirm": [("sites", "failover", "confirm", "fov_nope", "--token-file",
                                    str(bogus))],
        "sites failback confirm": [("sites", "failback", "confirm", "fov_nope", "--token-file",
                                    str(bogus))],
        "sites failovers": [("sites", "failovers")],
        "sites failover": [("sites", "failover", "--from", "GBLALA", "--to", "GBLALA",
                            "--token-file", str(bogus))],
        "partners create": [("partners", "create", "--name", "X", "--impc", "ZZZZZZ")],
        "partners list": [("partners", "list")],
        "partners keys list": [("partners", "keys", "list", prt)],
        "partners keys revoke": [("partners", "keys", "revoke", prt, "nokey")],
        "partners keys rotate": [("partners", "keys", "rotate", prt)],
        "replication trust": [("replication", "trust", "--name", "HUB", "--key", "not-a-key")],
        "network check": [("network", "check")],
        "backup verify": [("backup", "verify", str(home / "no-backup"))],
        "bench labels": [("bench", "labels", "--runs", "5")],
        "receipt verify": [("receipt", "verify", str(home / "no-receipt.json"), "--site-key",
                            "AAAA"),
                           ("receipt", "verify", str(bogus), "--site-key", "A" * 43 + "=")],
    }  # fmt: skip
    untested = json_commands() - set(runs) - ELSEWHERE
    assert untested == set(), f"add these --json commands to this test: {sorted(untested)}"
    for name, calls in runs.items():
        for args in calls:
            code, doc = _run(home, *args)
            if code != 0:
                assert doc.get("ok") is False and "error" in doc, (name, doc)
