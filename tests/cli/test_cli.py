"""The command line: init, customers, exit codes, help with examples."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex.accounts.app.auth import Role
from postex.cli.main import app
from tests.conftest import make_node
from tests.incidents.incident_helpers import staff

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_init_creates_key_files_readable_only_by_the_owner(tmp_path: Path) -> None:
    """`postex init` makes the KEK and signing key with mode 0600, outside the database."""
    code, _ = run("init", "--home", str(tmp_path))
    assert code == 0
    for name in ("kek.json", "signing-GBLALA.json"):
        assert stat.S_IMODE((tmp_path / "keys" / name).stat().st_mode) == 0o600
    kek = json.loads((tmp_path / "keys" / "kek.json").read_text())
    key_b64 = next(iter(kek["keys"].values())).encode()
    assert key_b64 not in b"".join(p.read_bytes() for p in tmp_path.glob("postex.db*"))


def test_customers_create_json_prints_id_and_api_key(tmp_path: Path) -> None:
    """`customers create --json` prints one JSON object with the new id and key."""
    run("init", "--home", str(tmp_path))
    result = runner.invoke(
        app, ["customers", "create", "--name", "Acme", "--json", "--home", str(tmp_path)]
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["id"].startswith("cus_")
    assert data["api_key"].startswith("pxk_")
    _code, out = run("customers", "list", "--json", "--home", str(tmp_path))
    assert [c["name"] for c in json.loads(out)["customers"]] == ["Acme"]


def test_bad_input_exits_with_code_2(tmp_path: Path) -> None:
    """An empty customer name is bad input: exit code 2 and nothing created."""
    run("init", "--home", str(tmp_path))
    code, out = run("customers", "create", "--name", "  ", "--home", str(tmp_path))
    assert code == 2
    assert "rule length" in out
    assert json.loads(run("customers", "list", "--json", "--home", str(tmp_path))[1]) == {
        "customers": []
    }


def test_commands_without_init_explain_what_to_do(tmp_path: Path) -> None:
    """Running before `postex init` says to run it, with exit code 2."""
    code, out = run("customers", "list", "--home", str(tmp_path / "nothing"))
    assert code == 2
    assert "postex init" in out


def test_erasing_an_unknown_customer_is_refused(tmp_path: Path) -> None:
    """Erasing a customer that does not exist changes nothing and exits 2."""
    run("init", "--home", str(tmp_path))
    code, _ = run("customers", "erase", "cus_nope", "--yes", "--home", str(tmp_path))
    assert code == 2


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    import typer.main

    click_group = typer.main.get_command(app) if group is app else group
    out = []
    for name, cmd in getattr(click_group, "commands", {}).items():
        if getattr(cmd, "commands", None):
            out += _commands(cmd, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


@pytest.mark.parametrize("command", _commands(app), ids=" ".join)
def test_every_command_has_help_with_an_example(command: tuple[str, ...]) -> None:
    """`postex … --help` works for every command and shows an example."""
    code, out = run(*command, "--help")
    assert code == 0
    assert "Example" in out


def _command(path: tuple[str, ...]) -> object:
    import typer.main

    cmd: object = typer.main.get_command(app)
    for name in path:
        cmd = getattr(cmd, "commands", {})[name]
    return cmd


@pytest.mark.parametrize("command", _commands(app), ids=" ".join)
def test_every_option_and_argument_says_what_it_is(command: tuple[str, ...]) -> None:
    """No bare option in `--help`: every option and argument of every command has a help text."""
    params = getattr(_command(command), "params", [])
    bare = [p.name for p in params if p.name != "help" and not getattr(p, "help", None)]
    assert bare == []


def test_confirming_a_hold_says_it_is_in_effect(tmp_path: Path, sqlite_url: str) -> None:
    """`holds confirm` of a placement reports the hold in effect, not "released 0 items"."""
    home = tmp_path / "home"
    node = make_node(home, sqlite_url)
    _, first = staff(node, "usr_cli_a", Role.OPS)
    _, second = staff(node, "usr_cli_b", Role.OPS)
    node.close()
    where = ["--db", sqlite_url, "--home", str(home)]
    place = ["holds", "place", "--goods-only", "--reason", "incident", "--advisory", "Hold goods"]
    placed = runner.invoke(app, [*place, "--json", *where], env={"POSTEX_TOKEN": first})
    hold_id = json.loads(placed.stdout)["id"]
    confirmed = runner.invoke(
        app, ["holds", "confirm", hold_id, "--token-stdin", *where], input=second + "\n"
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert "confirmed: the hold is active" in confirmed.output
    assert "released 0 items" not in confirmed.output


def test_an_empty_held_items_queue_says_so(tmp_path: Path) -> None:
    """`holds held` with nothing held prints a line saying so, not an empty screen."""
    run("init", "--home", str(tmp_path))
    code, out = run("holds", "held", "--site", "GBLALA", "--home", str(tmp_path))
    assert code == 0
    assert out.strip() == "no held items"
