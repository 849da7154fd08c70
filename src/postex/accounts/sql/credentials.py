"""Credentials projection and repository (hashes of API keys and staff tokens only).

Every row carries a MAC (:mod:`postex.eventlog.sql.row_mac`) over what decides access:
key id, kind, subject, role, secret hash, site, offices, revoked and disabled. Only this
projection, holding the node's log key, writes a row that checks; :class:`SqlCredentials`
reads no other, so a row inserted or changed straight in the database opens nothing (the
guard raises an integrity alarm). ``disabled`` follows ``staff.disabled.v1`` and
``staff.enabled.v1`` here too, so deleting a ``staff_status`` row enables nobody.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    LargeBinary,
    String,
    Table,
    Text,
    exists,
    select,
    update,
)

from postex.accounts.app.auth import CredentialRecord, Role
from postex.accounts.events import (
    CredentialIssued,
    CredentialRevoked,
    CustomerErased,
    StaffDisabled,
    StaffEnabled,
)
from postex.accounts.sql.sessions import staff_status
from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.fast import executemany
from postex.eventlog.sql.projections import projection
from postex.eventlog.sql.row_mac import Field, row_checks, row_mac
from postex.eventlog.sql.schema import customers, metadata

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
    Column("disabled", Boolean, nullable=False, server_default="0"),
    Column("mac", LargeBinary(32)),  # row MAC under the node's log key (see row_mac)
)

credentials_p = projection("credentials", credentials)
TABLE = "credentials"


def mac_fields(m: Any) -> list[Field]:
    """The fields a credential's MAC covers, from a row mapping."""
    return [m["key_id"], m["kind"], m["subject"], m["role"], bytes(m["secret_hash"]), m["site"],
            m["offices"], m["revoked_at"] is not None, bool(m["disabled"])]  # fmt: skip


def _disabled_subjects(conn: Connection, subjects: Iterable[str]) -> set[str]:
    u = staff_status
    wanted = sorted(set(subjects))
    if not wanted:
        return set()
    q = select(u.c.user_id).where(u.c.user_id.in_(wanted), u.c.disabled_at.is_not(None))
    return set(conn.execute(q).scalars())


def _remac(conn: Connection, where: Any) -> None:
    """Write the MAC of every row ``where`` selects again, after a change of its fields."""
    c = credentials
    rows = conn.execute(select(c).where(where)).mappings().all()
    for m in rows:
        mac = row_mac(conn, TABLE, mac_fields(m))
        conn.execute(update(c).where(c.c.key_id == m["key_id"]).values(mac=mac))


@credentials_p.on(CredentialIssued)
def _issued(conn: Connection, events: Sequence[StoredEvent[CredentialIssued]]) -> None:
    off = _disabled_subjects(conn, (e.event.subject for e in events if e.event.kind == "staff"))
    rows = []
    for e in events:
        c = e.event
        m = {"key_id": c.key_id, "kind": c.kind, "subject": c.subject, "role": c.role,
             "secret_hash": bytes.fromhex(c.secret_sha256), "site": c.site,
             "offices": json.dumps(c.offices), "revoked_at": None,
             "disabled": c.subject in off}  # fmt: skip
        rows.append((m["key_id"], m["kind"], m["subject"], m["role"], m["secret_hash"], m["site"],
                     m["offices"], c.name, e.recorded_at, m["disabled"],
                     row_mac(conn, TABLE, mac_fields(m))))  # fmt: skip
    executemany(
        conn,
        "INSERT INTO credentials (key_id, kind, subject, role, secret_hash, site, offices, name,"
        " created_at, revoked_at, disabled, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
        rows,
    )


@credentials_p.on(CredentialRevoked)
def _revoked(conn: Connection, events: Sequence[StoredEvent[CredentialRevoked]]) -> None:
    executemany(
        conn,
        "UPDATE credentials SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
        [(e.recorded_at, e.event.key_id) for e in events],
    )
    _remac(conn, credentials.c.key_id.in_(sorted({e.event.key_id for e in events})))


def _set_disabled(conn: Connection, user_ids: Sequence[str], disabled: bool) -> None:
    c = credentials
    which = c.c.subject.in_(sorted(set(user_ids))) & (c.c.kind == "staff")
    conn.execute(update(c).where(which).values(disabled=disabled))
    _remac(conn, which)


@credentials_p.on(StaffDisabled)
def _staff_disabled(conn: Connection, events: Sequence[StoredEvent[StaffDisabled]]) -> None:
    _set_disabled(conn, [e.event.user_id for e in events], True)


@credentials_p.on(StaffEnabled)
def _staff_enabled(conn: Connection, events: Sequence[StoredEvent[StaffEnabled]]) -> None:
    _set_disabled(conn, [e.event.user_id for e in events], False)


@credentials_p.on(CustomerErased)
def _erased(conn: Connection, events: Sequence[StoredEvent[CustomerErased]]) -> None:
    """An erased customer's name leaves its API keys' rows too (v1 keys copied it)."""
    executemany(
        conn,
        "UPDATE credentials SET name = '' WHERE kind = 'customer' AND subject = ?",
        [(e.event.customer_id,) for e in events],
    )


def _record(m: Any) -> CredentialRecord:
    name = m["name"]
    if m["kind"] == "customer" and m["account_name"] is not None:
        name = m["account_name"]  # v2 keys carry no name: the account's, while it has one
    return CredentialRecord(
        key_id=m["key_id"], kind=m["kind"], subject=m["subject"], role=Role(m["role"]),
        secret_hash=bytes(m["secret_hash"]), created_at=m["created_at"],
        revoked_at=m["revoked_at"], site=m["site"], offices=tuple(json.loads(m["offices"])),
        name=name, disabled=bool(m["disabled"]),
    )  # fmt: skip


def _query() -> Any:
    c, a = credentials, customers
    account = select(a.c.name).where(a.c.id == c.c.subject).scalar_subquery()
    return select(c, account.label("account_name"))


class SqlCredentials:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _checks(self, m: Any) -> bool:
        return row_checks(self.conn, TABLE, str(m["key_id"]), mac_fields(m), m["mac"])

    def get(self, key_id: str) -> CredentialRecord | None:
        """The credential, marked ``disabled`` while its staff user is disabled; None when
        there is none or its row does not carry the projection's MAC (written outside it)."""
        c, u = credentials, staff_status
        off = exists().where(u.c.user_id == c.c.subject, u.c.disabled_at.is_not(None))
        row = self.conn.execute(
            _query().add_columns(off.label("off")).where(c.c.key_id == key_id)
        ).mappings().first()  # fmt: skip
        if row is None or not self._checks(row):
            return None
        record = _record(row)
        return replace(record, disabled=record.disabled or bool(row["off"]))

    def for_subject(self, subject: str) -> list[CredentialRecord]:
        c = credentials
        rows = self.conn.execute(
            _query().where(c.c.subject == subject).order_by(c.c.created_at)
        ).mappings()
        return [_record(r) for r in rows if self._checks(r)]
