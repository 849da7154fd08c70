"""Staff users: the CLI prints a working token; passwords are argon2 hashes; roles and sites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from postex.accounts.app.staff import UserRepository, check_password, create_user
from postex.bootstrap import Container
from postex.cli.main import app as cli
from postex.eventlog.sql.admin import execute_raw
from postex.server import create_app
from tests.conftest import make_node
from tests.factories import SERIES, SITE, staff


def test_users_create_prints_id_and_a_token_that_works(tmp_path: Path, sqlite_url: str) -> None:
    """`postex users create --json` gives {"id", "token"}; the token opens the clerk's site."""
    home = str(tmp_path / "home")
    make_node(tmp_path / "home", sqlite_url).close()  # keys and schema, as `postex init`
    args = ["users", "create", "--username", "j.smith", "--role", "clerk", "--site", SITE]
    run = CliRunner().invoke(cli, [*args, "--db", sqlite_url, "--home", home, "--json"])
    assert run.exit_code == 0, run.output
    created = json.loads(run.stdout)
    assert set(created) == {"id", "token"} and created["id"].startswith("usr_")
    node = make_node(tmp_path / "home", sqlite_url)
    try:
        with TestClient(create_app(node)) as client:
            bearer = {"Authorization": f"Bearer {created['token']}"}
            assert (
                client.get(f"/api/v1/sites/{SITE}/receptacles", headers=bearer).status_code == 200
            )
            other = client.get("/api/v1/sites/GBLGWA/receptacles", headers=bearer)
            assert other.status_code == 404
    finally:
        node.close()


def test_users_create_refuses_bad_input_with_exit_code_2(tmp_path: Path, sqlite_url: str) -> None:
    """A clerk without a site, an unknown role and a taken name each exit 2 with a reason."""
    make_node(tmp_path / "h", sqlite_url).close()
    base = ["users", "create", "--db", sqlite_url, "--home", str(tmp_path / "h")]
    runner = CliRunner()
    no_site = runner.invoke(cli, [*base, "--username", "a.b", "--role", "clerk"])
    assert no_site.exit_code == 2 and "site" in no_site.output
    bad_role = runner.invoke(cli, [*base, "--username", "a.b", "--role", "king"])
    assert bad_role.exit_code == 2 and "role" in bad_role.output
    assert runner.invoke(cli, [*base, "--username", "a.b", "--role", "ops"]).exit_code == 0
    taken = runner.invoke(cli, [*base, "--username", "a.b", "--role", "ops"])
    assert taken.exit_code == 2 and "taken" in taken.output


@pytest.mark.sqlite_only
def test_passwords_are_kept_as_argon2_hashes(node: Container) -> None:
    """The console password is verifiable but never stored or logged in clear."""
    password = "correct horse battery staple"
    created = create_user(node.ctx, "sup.one", "supervisor", SITE, password)
    with node.ctx.store.read() as uow:
        record = uow.repo(UserRepository).get(created.record.id)
    assert record is not None and record.password_hash
    assert record.password_hash.startswith("$argon2id$")
    assert check_password(record, password) and not check_password(record, "wrong password!")
    bodies = execute_raw(node.engine, "SELECT body FROM events")
    assert all(password.encode() not in bytes(b[0]) for b in bodies)


@pytest.mark.sqlite_only
def test_ops_act_at_every_site_and_creation_is_audited(node: Container, client: TestClient) -> None:
    """An operations lead opens receptacles at any office; every user creation is audited."""
    ops = staff(node, "ops", None)
    got = client.post(f"/api/v1/sites/{SITE}/receptacles", json=SERIES, headers=ops.headers)
    assert got.status_code == 201
    audits = execute_raw(
        node.engine, "SELECT count(*) FROM events WHERE type = 'audit.recorded.v1'"
    )
    assert audits[0][0] >= 2  # the user's creation and the receptacle's opening
