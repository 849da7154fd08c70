"""`postex users list|disable|enable|sessions`: staff administration from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from postex.accounts.app import sessions
from postex.bootstrap import build
from postex.cli.main import app
from postex.config import load_settings

runner = CliRunner()
PASSWORD = "correct horse battery"


def run(home: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--home", str(home)], input=stdin)
    return result.exit_code, result.stdout


def node_with_clara(tmp_path: Path) -> tuple[Path, str]:
    """An initialised node with a clerk, clara, who has an API token; (home, token)."""
    home = tmp_path / "node"
    runner.invoke(app, ["init", "--home", str(home)])
    create = ["users", "create", "--username", "clara", "--role", "clerk", "--site", "GBLALA"]
    code, out = run(home, *create, "--password-stdin", "--json", stdin=PASSWORD + "\n")
    assert code == 0, out
    return home, json.loads(out)["token"]


def open_session(home: Path) -> str:
    """Clara signs in to the console (the app layer, as the sign-in page calls it)."""
    c = build(load_settings(home=str(home)))
    try:
        opened = sessions.sign_in(c.console, "clara", PASSWORD, "10.0.0.7")
    finally:
        c.close()
    return opened.session.id_sha256


def token_works(home: Path, token: str) -> bool:
    from postex.accounts.app.auth import CredentialRepository, authenticate
    from postex.kernel.errors import UnauthenticatedError

    c = build(load_settings(home=str(home)))
    try:
        with c.store.read() as uow:
            authenticate(uow.repo(CredentialRepository), token)
        return True
    except UnauthenticatedError:
        return False
    finally:
        c.close()


def test_list_prints_one_json_document_with_every_user(tmp_path: Path) -> None:
    home, _ = node_with_clara(tmp_path)
    open_session(home)
    code, out = run(home, "users", "list", "--json")
    assert code == 0
    [clara] = json.loads(out)["users"]
    assert clara["username"] == "clara"
    assert (clara["role"], clara["site"], clara["disabled"], clara["totp"]) == (
        "clerk",
        "GBLALA",
        False,
        False,
    )
    assert clara["sessions"] == 1
    assert clara["last_sign_in"] is not None
    code, text = run(home, "users", "list")
    assert code == 0 and "clara" in text and "enabled" in text


def test_disable_ends_sessions_and_token_and_enable_gives_the_token_back(tmp_path: Path) -> None:
    home, token = node_with_clara(tmp_path)
    open_session(home)
    assert token_works(home, token)
    code, out = run(home, "users", "disable", "clara", "--reason", "left", "--json")
    assert code == 0
    assert json.loads(out) == {"username": "clara", "disabled": True, "sessions_ended": 1}
    assert not token_works(home, token)
    [clara] = json.loads(run(home, "users", "list", "--json")[1])["users"]
    assert (clara["disabled"], clara["sessions"]) == (True, 0)
    again, _ = run(home, "users", "disable", "clara", "--reason", "left")
    assert again == 2  # disabled already
    code, out = run(home, "users", "enable", "clara", "--reason", "back", "--json")
    assert (code, json.loads(out)) == (0, {"username": "clara", "disabled": False})
    assert token_works(home, token)


def test_a_reason_is_required_and_unknown_users_are_refused(tmp_path: Path) -> None:
    home, _ = node_with_clara(tmp_path)
    assert run(home, "users", "disable", "clara", "--reason", " ")[0] == 2
    assert run(home, "users", "disable", "nobody", "--reason", "x")[0] == 2
    assert runner.invoke(app, ["users", "disable", "clara", "--home", str(home)]).exit_code == 2
    [clara] = json.loads(run(home, "users", "list", "--json")[1])["users"]
    assert clara["disabled"] is False


def test_sessions_list_and_end_one_or_all(tmp_path: Path) -> None:
    home, _ = node_with_clara(tmp_path)
    first = open_session(home)
    second = open_session(home)
    code, out = run(home, "users", "sessions", "list", "clara", "--json")
    assert code == 0
    listed = json.loads(out)
    assert listed["username"] == "clara"
    assert {s["session"] for s in listed["sessions"]} == {first[:12], second[:12]}
    assert {s["ip"] for s in listed["sessions"]} == {"10.0.0.7"}
    code, out = run(home, "users", "sessions", "end", "clara", "--session", first[:12],
                    "--reason", "lost handheld", "--json")  # fmt: skip
    assert (code, json.loads(out)["sessions_ended"]) == (0, 1)
    left = json.loads(run(home, "users", "sessions", "list", "clara", "--json")[1])
    assert [s["session"] for s in left["sessions"]] == [second[:12]]
    assert run(home, "users", "sessions", "end", "clara", "--session", first[:12],
               "--reason", "again")[0] == 2  # fmt: skip
    code, out = run(home, "users", "sessions", "end", "clara", "--reason", "shift over")
    assert code == 0 and "1 session(s)" in out
    assert (
        json.loads(run(home, "users", "sessions", "list", "clara", "--json")[1])["sessions"] == []
    )
