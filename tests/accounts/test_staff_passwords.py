"""Staff password hashes are kept out of the log (issue #15 part 8).

``user.created.v2`` carries no hash: it is written to the node-local ``staff_passwords``
table in the same transaction, so neither the log, the hub nor a backup holds it. A log
with old ``user.created.v1`` bodies still rebuilds: their hashes move into the table.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex.accounts.app.auth import Role, issue_token
from postex.accounts.app.staff import (
    UserRepository,
    _hasher,
    check_password,
    create_user,
    set_password,
)
from postex.bootstrap import Container, replication
from postex.cli.main import app
from postex.eventlog.events import NewEvent
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.errors import NotFoundError, ValidationError
from tests.accounts.test_sealed_account_names import _backup_bytes, _bodies

PASSWORD = "correct horse battery"
NEW = "a different long phrase"


def _password_ok(node: Container, username: str, password: str) -> bool:
    with node.ctx.store.read() as uow:
        user = uow.repo(UserRepository).by_username(username)
    return user is not None and check_password(user, password)


def test_no_hash_in_the_log_or_a_backup_and_sign_in_works(node: Container, tmp_path: Path) -> None:
    create_user(node.ctx, "j.smith", "clerk", "GBLALA", PASSWORD)
    assert b"$argon2" not in _bodies(node)
    [(hashed,)] = execute_raw(node.engine, "SELECT password_hash FROM staff_passwords")
    assert hashed.startswith("$argon2id$")
    assert _password_ok(node, "j.smith", PASSWORD)
    replication(node).backup_writer().write(tmp_path / "backup")
    assert b"$argon2" not in _backup_bytes(tmp_path / "backup")
    node.rebuilder.rebuild()  # the table is not a projection: the password stays
    assert _password_ok(node, "j.smith", PASSWORD)


def test_set_password_replaces_it_and_is_audited(node: Container) -> None:
    create_user(node.ctx, "j.smith", "clerk", "GBLALA")  # no console password yet
    assert not _password_ok(node, "j.smith", PASSWORD)
    set_password(node.ctx, "j.smith", PASSWORD)
    set_password(node.ctx, "J.Smith ", NEW)
    assert _password_ok(node, "j.smith", NEW) and not _password_ok(node, "j.smith", PASSWORD)
    assert b"$argon2" not in _bodies(node)
    actions = [r[0] for r in execute_raw(node.engine, "SELECT action FROM audit_log")]
    assert actions.count("staff.password_set") == 2
    with pytest.raises(ValidationError):
        set_password(node.ctx, "j.smith", "short")
    with pytest.raises(NotFoundError):
        set_password(node.ctx, "nobody.here", NEW)


def test_a_v1_log_moves_its_hashes_into_the_table_on_rebuild(node: Container) -> None:
    old_hash = _hasher.hash(PASSWORD)
    user_id = "usr_v1olduser"
    token = issue_token("staff", user_id, Role.SUPERVISOR, site="GBLALA", name="old.super")
    body = {"user_id": user_id, "username": "old.super", "role": "supervisor",
            "site": "GBLALA", "password_hash": old_hash}  # fmt: skip
    with node.ctx.store.write(node.ctx.site) as uow:
        uow.append([NewEvent("user.created.v1", body), NewEvent("credential.issued.v1",
                    {**token.event.to_body()})])  # fmt: skip
    assert _password_ok(node, "old.super", PASSWORD)
    execute_raw(node.engine, "DELETE FROM staff_passwords")
    assert not _password_ok(node, "old.super", PASSWORD)
    node.rebuilder.rebuild()
    assert _password_ok(node, "old.super", PASSWORD)  # adopted from the v1 body again
    set_password(node.ctx, "old.super", NEW)
    node.rebuilder.rebuild()  # a password set since is kept, not the v1 one
    assert _password_ok(node, "old.super", NEW) and not _password_ok(node, "old.super", PASSWORD)


def test_the_cli_reads_the_password_from_stdin(tmp_path: Path) -> None:
    runner = CliRunner()
    home = str(tmp_path / "home")
    assert runner.invoke(app, ["init", "--home", home]).exit_code == 0
    made = runner.invoke(app, ["users", "create", "--username", "j.smith", "--role", "admin",
                               "--home", home])  # fmt: skip
    assert made.exit_code == 0, made.output
    done = runner.invoke(app, ["users", "password", "j.smith", "--password-stdin", "--home", home],
                         input=PASSWORD + "\n")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert PASSWORD not in done.output and "password set" in done.output
    refused = runner.invoke(app, ["users", "password", "j.smith", "--home", home])
    assert refused.exit_code != 0 and "--password-stdin" in refused.output
