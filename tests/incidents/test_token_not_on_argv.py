"""Staff tokens never on the command line (issue #15 part 8): `ps` shows every argv.

The holds commands read the token from $POSTEX_TOKEN, --token-file or --token-stdin;
`--token` is refused and the operator is told to rotate the token it exposed.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from typer.main import get_command
from typer.testing import CliRunner

from postex.accounts.app.auth import Role
from postex.cli.main import app
from tests.conftest import make_node
from tests.incidents.incident_helpers import staff

runner = CliRunner()


def _secret_options(command: click.Command, path: str = "") -> dict[str, list[str]]:
    """Every visible option that takes a value and names a token, password, secret or KEK."""
    found: dict[str, list[str]] = {}
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found |= _secret_options(sub, f"{path} {name}".strip())
        return found
    for p in command.params:
        if not isinstance(p, click.Option) or p.hidden or p.is_flag:
            continue
        names = [o for o in p.opts if any(w in o for w in ("token", "password", "secret", "kek"))]
        names = [o for o in names if not o.endswith("-file")]
        if names:
            found[path] = names
    return found


def test_no_command_takes_a_secret_as_an_argument() -> None:
    assert _secret_options(get_command(app)) == {}


def _node(tmp_path: Path, sqlite_url: str) -> tuple[list[str], str, str]:
    home = tmp_path / "home"
    node = make_node(home, sqlite_url)
    _, first = staff(node, "usr_argv_a", Role.OPS)
    _, second = staff(node, "usr_argv_b", Role.OPS)
    node.close()
    return ["--db", sqlite_url, "--home", str(home)], first, second


def test_token_from_environment_file_or_stdin(tmp_path: Path, sqlite_url: str) -> None:
    where, first, second = _node(tmp_path, sqlite_url)
    place = ["holds", "place", "--goods-only", "--reason", "incident", "--advisory", "Hold goods"]
    placed = runner.invoke(app, [*place, "--json", *where], env={"POSTEX_TOKEN": first})
    assert placed.exit_code == 0, placed.output
    hold = json.loads(placed.stdout)
    assert hold["placed_by"] == "usr_argv_a"
    token_file = tmp_path / "token"
    token_file.write_text(second + "\n")
    confirmed = runner.invoke(
        app, ["holds", "confirm", hold["id"], "--token-file", str(token_file), "--json", *where]
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert json.loads(confirmed.stdout)["hold"]["confirmed_by"] == "usr_argv_b"
    released = runner.invoke(
        app,
        ["holds", "release", hold["id"], "--reason", "over", "--token-stdin", "--json", *where],
        input=first + "\n",
    )
    assert released.exit_code == 0, released.output


def test_token_on_argv_is_refused_and_a_missing_token_explained(
    tmp_path: Path, sqlite_url: str
) -> None:
    where, first, _ = _node(tmp_path, sqlite_url)
    place = ["holds", "place", "--reason", "incident", "--advisory", "Hold goods", "--json"]
    on_argv = runner.invoke(app, [*place, "--token", first, *where], env={"POSTEX_TOKEN": ""})
    assert on_argv.exit_code == 2
    problem = json.loads(on_argv.stdout)["error"]
    assert "visible to other users" in problem["detail"] and "rotate" in problem["detail"]
    assert first not in on_argv.output
    listed = runner.invoke(app, ["holds", "list", "--json", *where], env={"POSTEX_TOKEN": ""})
    assert json.loads(listed.stdout) == {"holds": []}  # no hold was placed
    missing = runner.invoke(app, [*place, *where], env={"POSTEX_TOKEN": ""})
    assert missing.exit_code == 2
    assert "POSTEX_TOKEN" in json.loads(missing.stdout)["error"]["detail"]
