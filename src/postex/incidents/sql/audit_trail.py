"""The audit trail projection and its repository: every ``audit.recorded.v1`` event."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    String,
    Table,
    Text,
    and_,
    func,
    or_,
    select,
)

from postex.accounts.events import AuditRecorded
from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.fast import executemany, fetchall
from postex.eventlog.sql.projections import projection
from postex.eventlog.sql.schema import metadata
from postex.incidents.app.audit_trail import AuditEntry, AuditFilter, Position

audit_log = Table(
    "audit_log",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("recorded_at", String(32), nullable=False),
    Column("actor_id", String(80), nullable=False),
    Column("actor", Text, nullable=False),  # JSON: kind, id, role, site, ip
    Column("action", String(80), nullable=False),
    Column("target", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", Text, nullable=False),  # JSON
    Index("ix_audit_time", "recorded_at", "site", "seq"),
    Index("ix_audit_actor", "actor_id", "recorded_at"),
    Index("ix_audit_action", "action", "recorded_at"),
    Index("ix_audit_target", "target", "recorded_at"),
)

audit_p = projection("audit", audit_log)


@audit_p.on(AuditRecorded)
def _audit(conn: Connection, events: Sequence[StoredEvent[AuditRecorded]]) -> None:
    executemany(
        conn,
        "INSERT INTO audit_log (site, seq, recorded_at, actor_id, actor, action, target, reason,"
        " details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (e.site, e.seq, e.recorded_at, str(a.actor.get("id", ""))[:80],
             json.dumps(a.actor, sort_keys=True), str(a.action)[:80], str(a.target)[:200],
             a.reason or "", json.dumps(a.details or {}, sort_keys=True))
            for e in events
            for a in (e.event,)
        ],
    )  # fmt: skip


# --- repositories --------------------------------------------------------------------


def _entry(r: Any) -> AuditEntry:
    return AuditEntry(r.site, r.seq, r.recorded_at, json.loads(r.actor), r.action, r.target,
                      r.reason, json.loads(r.details))  # fmt: skip


class SqlAudit:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def search(self, flt: AuditFilter, before: Position | None, limit: int) -> list[AuditEntry]:
        a = audit_log
        q = select(a)
        if flt.actor:
            q = q.where(a.c.actor_id == flt.actor)
        if flt.action:
            if flt.action.endswith("*"):
                prefix = flt.action[:-1]
                q = q.where(func.substr(a.c.action, 1, len(prefix)) == prefix)
            else:
                q = q.where(a.c.action == flt.action)
        if flt.target:
            q = q.where(a.c.target == flt.target)
        if flt.site:
            q = q.where(a.c.site == flt.site)
        if flt.since:
            q = q.where(a.c.recorded_at >= flt.since)
        if flt.until:
            q = q.where(a.c.recorded_at < flt.until)
        if before is not None:
            at, site, seq = before
            q = q.where(
                or_(
                    a.c.recorded_at < at,
                    and_(a.c.recorded_at == at, a.c.site < site),
                    and_(a.c.recorded_at == at, a.c.site == site, a.c.seq < seq),
                )
            )
        q = q.order_by(a.c.recorded_at.desc(), a.c.site.desc(), a.c.seq.desc()).limit(limit)
        return [_entry(r) for r in self.conn.execute(q)]

    def names(self, actor_ids: Sequence[str]) -> dict[str, str]:
        """Staff usernames, customer and partner names (tables of accounts, sites and
        tracking, read by name: their projections live in those features)."""
        ids = [i for i in actor_ids if i][:500]
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = [
            *fetchall(
                self.conn, f"SELECT id, username FROM staff_users WHERE id IN ({marks})", ids
            ),
            *fetchall(
                self.conn,
                f"SELECT id, name FROM customers WHERE erased_at IS NULL AND id IN ({marks})",
                ids,
            ),
            *fetchall(self.conn, f"SELECT id, name FROM partners WHERE id IN ({marks})", ids),
        ]
        return {str(i): str(n) for i, n in rows}

    def staff_id(self, username: str) -> str | None:
        rows = fetchall(self.conn, "SELECT id FROM staff_users WHERE username = ?", [username])
        return str(rows[0][0]) if rows else None
