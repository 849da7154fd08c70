"""Credentials projection and repository (hashes of API keys and staff tokens only)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import Column, Connection, LargeBinary, String, Table, Text, exists, select

from postex.accounts.app.auth import CredentialRecord, Role
from postex.accounts.events import CredentialIssued, CredentialRevoked, CustomerErased
from postex.accounts.sql.sessions import staff_status
from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.fast import executemany
from postex.eventlog.sql.projections import projection
from postex.eventlog.sql.schema import metadata

credentials = Table(
    "credentials",
    metadata,
    Column("key_id", String(24), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("subject", String(40), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column("site", String(16)),
    Column("offices", Text, nullable=False),  # JSON list of IMPC codes
    Column("name", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)

credentials_p = projection("credentials", credentials)


@credentials_p.on(CredentialIssued)
def _issued(conn: Connection, events: Sequence[StoredEvent[CredentialIssued]]) -> None:
    executemany(
        conn,
        "INSERT INTO credentials (key_id, kind, subject, role, secret_hash, site, offices, name,"
        " created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        [
            (
                c.key_id, c.kind, c.subject, c.role, bytes.fromhex(c.secret_sha256), c.site,
                json.dumps(c.offices), c.name, e.recorded_at,
            )
            for e in events
            for c in (e.event,)
        ],
    )  # fmt: skip


@credentials_p.on(CredentialRevoked)
def _revoked(conn: Connection, events: Sequence[StoredEvent[CredentialRevoked]]) -> None:
    executemany(
        conn,
        "UPDATE credentials SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
        [(e.recorded_at, e.event.key_id) for e in events],
    )


@credentials_p.on(CustomerErased)
def _erased(conn: Connection, events: Sequence[StoredEvent[CustomerErased]]) -> None:
    """An erased customer's name leaves its API keys' rows too."""
    executemany(
        conn,
        "UPDATE credentials SET name = '' WHERE kind = 'customer' AND subject = ?",
        [(e.event.customer_id,) for e in events],
    )


def _record(r: object) -> CredentialRecord:
    m = r._mapping  # type: ignore[attr-defined]
    return CredentialRecord(
        key_id=m["key_id"], kind=m["kind"], subject=m["subject"], role=Role(m["role"]),
        secret_hash=bytes(m["secret_hash"]), created_at=m["created_at"],
        revoked_at=m["revoked_at"], site=m["site"], offices=tuple(json.loads(m["offices"])),
        name=m["name"],
    )  # fmt: skip


class SqlCredentials:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, key_id: str) -> CredentialRecord | None:
        """The credential, marked ``disabled`` while its staff user is disabled."""
        c, u = credentials, staff_status
        off = exists().where(u.c.user_id == c.c.subject, u.c.disabled_at.is_not(None))
        row = self.conn.execute(
            select(c, off.label("disabled")).where(c.c.key_id == key_id)
        ).first()
        if row is None:
            return None
        return replace(_record(row), disabled=bool(row._mapping["disabled"]))

    def for_subject(self, subject: str) -> list[CredentialRecord]:
        rows = self.conn.execute(
            select(credentials)
            .where(credentials.c.subject == subject)
            .order_by(credentials.c.created_at)
        )
        return [_record(r) for r in rows]
