"""`postex holds` and `postex audit` on a real SQLite node."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from postex.accounts.app.auth import Role
from postex.cli.main import app
from tests.conftest import make_node
from tests.incidents.incident_helpers import staff


def test_cli_places_confirms_lists_releases_and_audits(tmp_path: Path, sqlite_url: str) -> None:
    """Two ops users hold the network from the CLI; the audit command shows both steps."""
    home = tmp_path / "home"
    node = make_node(home, sqlite_url)
    _, t1 = staff(node, "usr_cli_one", Role.OPS)
    _, t2 = staff(node, "usr_cli_two", Role.OPS)
    node.close()
    where = ["--db", sqlite_url, "--home", str(home)]
    (tmp_path / "t1").write_text(t1 + "\n")
    (tmp_path / "t2").write_text(t2 + "\n")
    as1, as2 = ["--token-file", str(tmp_path / "t1")], ["--token-file", str(tmp_path / "t2")]
    run = CliRunner().invoke
    placed = run(app, ["holds", "place", "--goods-only", "--reason", "incident", "--advisory",
                       "Hold goods", *as1, "--json", *where])  # fmt: skip
    assert placed.exit_code == 0, placed.output
    hold = json.loads(placed.stdout)
    assert hold["status"] == "pending"
    mine = run(app, ["holds", "confirm", hold["id"], *as1, *where])
    assert mine.exit_code == 2
    confirmed = run(app, ["holds", "confirm", hold["id"], *as2, "--json", *where])
    assert json.loads(confirmed.stdout)["hold"]["status"] == "active"
    listed = run(app, ["holds", "list", "--json", *where])
    assert [h["id"] for h in json.loads(listed.stdout)["holds"]] == [hold["id"]]
    bad = run(app, ["holds", "place", "--site", "GBNOPE", "--reason", "x", "--advisory", "y",
                    *as1, *where])  # fmt: skip
    assert bad.exit_code == 2
    assert "unknown_site" in bad.output
    emergency = run(app, ["holds", "release", hold["id"], "--emergency", "--reason", "over",
                          *as2, "--json", *where])  # fmt: skip
    assert json.loads(emergency.stdout)["hold"]["status"] == "released"
    trail = run(app, ["audit", "--action", "hold.*", "--json", *where])
    actions = [e["action"] for e in json.loads(trail.stdout)["entries"]]
    assert actions == ["hold.two_person_rule_bypassed", "hold.released", "hold.confirmed",
                       "hold.placed"]  # fmt: skip
    text = run(app, ["audit", "--actor", "usr_cli_two", *where])
    assert "hold.confirmed" in text.stdout and "hold.placed" not in text.stdout
