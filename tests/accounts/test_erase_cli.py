"""`postex customers erase` tells the operator what the erasure does not reach yet.

Backups taken before the erasure (and the hub's copy) hold the customer's data key wrapped
under the current KEK: until `postex keys rotate` and the old backups age out, they still
open the customer's data (issue #15 part 8).
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from postex.cli.main import app

runner = CliRunner()


def _customer(home: Path) -> str:
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    made = runner.invoke(app, ["customers", "create", "--name", "Ann Trader", "--json",
                               "--home", str(home)])  # fmt: skip
    assert made.exit_code == 0, made.output
    return str(json.loads(made.stdout)["id"])


def test_erase_says_backups_and_the_kek_still_open_the_data(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cus = _customer(home)
    result = runner.invoke(app, ["customers", "erase", cus, "--yes", "--home", str(home)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"erased {cus}" in text
    assert "backups" in text and "postex keys rotate" in text and "KEK" in text


def test_erase_json_reports_the_remaining_copies(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cus = _customer(home)
    no_yes = runner.invoke(app, ["customers", "erase", cus, "--json", "--home", str(home)])
    assert no_yes.exit_code == 2 and json.loads(no_yes.stdout)["ok"] is False
    result = runner.invoke(app, ["customers", "erase", cus, "--yes", "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["id"] == cus and doc["erased"] is True
    assert "backups" in doc["remaining_copies"] and "KEK" in doc["remaining_copies"]
    assert any("postex keys rotate" in step for step in doc["next_steps"])
