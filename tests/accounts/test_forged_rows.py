"""Credentials and staff roles are never trusted from a direct database write (issue #15).

Every ``credentials`` and ``staff_users`` row carries a MAC under a key derived from the
node's log key (kept outside the database), written by the projection. A row inserted or
changed with only database access does not check: the token is refused (401, the same
answer as an unknown one), the console refuses the user, and a ``forged-row`` integrity
alarm is raised with one security log line naming the row, never a secret.
"""

from __future__ import annotations

import hashlib
import logging
import time

import pytest
from fastapi.testclient import TestClient

from postex.accounts.app.sessions import sign_in
from postex.accounts.app.staff_admin import CLI_ADMIN, disable_user
from postex.bootstrap import Container, replication
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.errors import UnauthenticatedError
from tests.factories import staff

ROUTE = "/api/v1/integrity"  # ops, auditor and admin only
SECRET = "attacker-chosen-secret-0123456789abcdef"


def _mark(node: Container) -> str:
    return "%s" if node.engine.dialect.name == "postgresql" else "?"


def _alarms(node: Container) -> list[str]:
    deadline = time.monotonic() + 10
    while True:
        found = [a.detail for a in replication(node).state.alarms() if a.kind == "forged-row"]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_credential_inserted_by_sql_is_refused_and_alarmed(
    node: Container, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    admin = staff(node, "admin", None)
    assert client.get(ROUTE, headers=admin.headers).status_code == 200
    q = _mark(node)
    [(mac,)] = execute_raw(node.engine, "SELECT mac FROM credentials")
    columns = "key_id, kind, subject, role, secret_hash, site, offices, name, created_at, mac"
    for key_id, forged_mac in (("f0f0f0f0f0f0", None), ("f1f1f1f1f1f1", bytes(mac))):
        execute_raw(
            node.engine,
            f"INSERT INTO credentials ({columns}) VALUES ({', '.join([q] * 10)})",
            (key_id, "staff", admin.principal.subject, "admin",
             hashlib.sha256(SECRET.encode()).digest(), None, "[]", "x", "2026-01-01", forged_mac),
        )  # fmt: skip
        token = f"pxk_{key_id}_{SECRET}"
        with caplog.at_level(logging.WARNING, logger="postex.security"):
            r = client.get(ROUTE, headers=_bearer(token))
        assert r.status_code == 401
        assert r.json()["detail"] == client.get(ROUTE, headers=_bearer("pxk_0_x")).json()["detail"]
    details = _alarms(node)
    assert any("credentials row f0f0f0f0f0f0" in d for d in details)
    assert any("credentials row f1f1f1f1f1f1" in d for d in details)
    assert SECRET not in caplog.text and "credentials row f0f0f0f0f0f0" in caplog.text
    node.rebuilder.rebuild()  # the log holds no such credential: the rows are gone
    assert execute_raw(node.engine, "SELECT count(*) FROM credentials") == [(1,)]
    assert client.get(ROUTE, headers=admin.headers).status_code == 200


def test_a_clerk_elevated_by_sql_update_is_refused(node: Container, client: TestClient) -> None:
    clerk = staff(node, "clerk")
    assert client.get(ROUTE, headers=clerk.headers).status_code == 403
    q = _mark(node)
    execute_raw(node.engine, "UPDATE credentials SET role = 'admin', site = NULL"
                f" WHERE key_id = {q}", (clerk.principal.key_id,))  # fmt: skip
    assert client.get(ROUTE, headers=clerk.headers).status_code == 401
    assert _alarms(node)
    node.rebuilder.rebuild()  # back to what the log says: a clerk
    assert client.get(ROUTE, headers=clerk.headers).status_code == 403


def test_a_staff_user_promoted_in_staff_users_cannot_sign_in(node: Container) -> None:
    from postex.accounts.app.staff import create_user

    create_user(node.ctx, "j.clerk", "clerk", "GBLALA", "correct horse battery")
    opened = sign_in(node.console, "j.clerk", "correct horse battery", None)
    assert opened.session.role == "clerk"
    execute_raw(node.engine, "UPDATE staff_users SET role = 'admin', site = NULL")
    with pytest.raises(UnauthenticatedError):
        sign_in(node.console, "j.clerk", "correct horse battery", None)
    assert any("staff_users row" in d for d in _alarms(node))


def test_revoked_and_disabled_cannot_be_undone_by_sql(node: Container, client: TestClient) -> None:
    from postex.accounts.app.api_keys import revoke_key

    auditor = staff(node, "auditor", None)
    ops = staff(node, "ops", None)
    revoke_key(node.ctx, auditor.principal.subject, auditor.principal.key_id,
               CLI_ADMIN.actor(), "left", kind="staff")  # fmt: skip
    assert client.get(ROUTE, headers=auditor.headers).status_code == 401
    execute_raw(node.engine, "UPDATE credentials SET revoked_at = NULL")
    assert client.get(ROUTE, headers=auditor.headers).status_code == 401  # MAC broken

    disable_user(node.console, CLI_ADMIN, "ops.all", "left")
    assert client.get(ROUTE, headers=ops.headers).status_code == 401
    execute_raw(node.engine, "DELETE FROM staff_status")  # the join says enabled now
    assert client.get(ROUTE, headers=ops.headers).status_code == 401  # the row still says not
    false = "false" if node.engine.dialect.name == "postgresql" else "0"
    execute_raw(node.engine, f"UPDATE credentials SET disabled = {false}")
    assert client.get(ROUTE, headers=ops.headers).status_code == 401  # MAC broken


def test_a_console_session_promoted_or_planted_by_sql_opens_nothing(node: Container) -> None:
    from postex.accounts.app.sessions import current, digest
    from postex.accounts.app.staff import create_user

    create_user(node.ctx, "j.clerk", "clerk", "GBLALA", "correct horse battery")
    opened = sign_in(node.console, "j.clerk", "correct horse battery", None)
    assert current(node.console, opened.token).role == "clerk"
    q = _mark(node)
    planted = "attacker-chosen-cookie"
    columns = ("user_id, username, role, site, stage, csrf, created_at, last_seen, ip,"
               " pending_totp, accepted, refused, held, customer_id, mac")  # fmt: skip
    execute_raw(node.engine, f"INSERT INTO staff_sessions (id_sha256, {columns}) SELECT {q}, "
                f"{columns} FROM staff_sessions", (digest(planted),))  # fmt: skip
    with pytest.raises(UnauthenticatedError):
        current(node.console, planted)  # the MAC covers the session id
    execute_raw(node.engine, "UPDATE staff_sessions SET role = 'admin', site = NULL")
    with pytest.raises(UnauthenticatedError):
        current(node.console, opened.token)
    assert any("staff_sessions row" in d for d in _alarms(node))


def test_rows_from_before_the_upgrade_get_their_macs_from_postex_init(
    node: Container, client: TestClient
) -> None:
    """Rows written before migration 0022 have no MAC (refused); `postex init` (a build
    with create) rebuilds them from the authenticated log once."""
    from postex.bootstrap import build

    admin = staff(node, "admin", None)
    execute_raw(node.engine, "UPDATE credentials SET mac = NULL")
    execute_raw(node.engine, "UPDATE staff_users SET mac = NULL")
    assert client.get(ROUTE, headers=admin.headers).status_code == 401
    build(node.settings, create=True).close()
    assert client.get(ROUTE, headers=admin.headers).status_code == 200
    assert execute_raw(node.engine, "SELECT count(*) FROM staff_users WHERE mac IS NULL") == [(0,)]
