"""CLI: partners create --json prints credentials once; worker --once runs one round."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from postex.cli.main import app


def test_partners_create_json_and_worker_once(tmp_path: Path) -> None:
    """`partners create --json` gives id and api_key; bad offices exit 2; `worker --once` 0."""
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'p.db'}"
    home = str(tmp_path / "home")
    assert runner.invoke(app, ["init", "--db", db, "--home", home]).exit_code == 0
    made = runner.invoke(
        app,
        ["partners", "create", "--name", "USPS", "--impc", "USJFKA", "--impc", "USJFKC",
         "--json", "--db", db, "--home", home],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    body = json.loads(made.stdout)
    assert body["id"].startswith("ptn_") and body["api_key"].startswith("pxk_")
    assert body["offices"] == ["USJFKA", "USJFKC"]
    bad = runner.invoke(
        app, ["partners", "create", "--name", "X", "--impc", "ZZZZZZ", "--db", db, "--home", home]
    )
    assert bad.exit_code == 2
    listed = runner.invoke(app, ["partners", "list", "--json", "--db", db, "--home", home])
    assert [p["name"] for p in json.loads(listed.stdout)["partners"]] == ["USPS"]
    worker = runner.invoke(app, ["worker", "--once", "--db", db, "--home", home])
    assert worker.exit_code == 0, worker.output
