"""Console sessions, sign-in throttling, TOTP enrolments and staff status in SQL.

``staff_sessions``, ``staff_sign_in_throttle`` and ``staff_totp_steps`` are operational
state, like the API's rate windows: written in their own short transactions, never rebuilt
from the log (a rebuild or restore signs everybody out, which is what it should do).
``staff_totp`` is a projection of ``staff.totp_enrolled.v1`` and
``staff.recovery_code_used.v1``; ``staff_status`` of ``staff.disabled.v1``,
``staff.enabled.v1`` and the ``staff.signed_in`` audit entries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from postex.accounts.app.auth import Role
from postex.accounts.app.sessions import Session, StaffStatus, Stage, TotpRecord
from postex.accounts.events import AuditRecorded, StaffDisabled, StaffEnabled
from postex.accounts.session_events import RecoveryCodeUsed, TotpEnrolled
from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.projections import projection
from postex.eventlog.sql.row_mac import Field, row_checks, row_mac
from postex.eventlog.sql.schema import metadata

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("username", String(40), nullable=False),
    Column("role", String(16), nullable=False),
    Column("site", String(16)),
    Column("stage", String(16), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),  # Unix seconds
    Column("last_seen", BigInteger, nullable=False),
    Column("ip", String(64)),
    Column("pending_totp", String(64)),
    Column("accepted", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
    Column("held", Integer, nullable=False),
    Column("customer_id", String(40)),  # a sender portal session (migration 0019)
    Column("mac", LargeBinary(32)),  # row MAC of who, role, site, stage (migration 0022)
    Index("ix_staff_sessions_user", "user_id"),
)
SESSIONS_TABLE = "staff_sessions"
staff_sign_in_throttle = Table(
    "staff_sign_in_throttle",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", BigInteger, nullable=False),
    Column("last_failure", BigInteger, nullable=False, server_default="0"),
)
staff_totp_steps = Table(
    "staff_totp_steps",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("last_step", BigInteger, nullable=False),  # the last TOTP time step accepted
)
staff_status = Table(
    "staff_status",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("disabled_at", String(32)),
    Column("disabled_reason", Text, nullable=False),
    Column("last_sign_in_at", String(32)),
)
staff_totp = Table(
    "staff_totp",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("sealed_secret", Text, nullable=False),
    Column("recovery_sha256", Text, nullable=False),  # JSON list of the unspent codes' hashes
    Column("enrolled_at", String(32), nullable=False),
)
totp_p = projection("staff_totp", staff_totp)
staff_status_p = projection("staff_status", staff_status)
OUTCOMES = ("accepted", "refused", "held")


class _Own:
    """Short transactions of its own, never the log writer's (as ``SqlRateWindows``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            with conn.begin():
                yield conn


def _disabled(user_id: Any) -> Any:
    """Whether the user of a row is disabled (an EXISTS on ``staff_status``)."""
    u = staff_status
    return exists().where(u.c.user_id == user_id, u.c.disabled_at.is_not(None))


def _session(row: Any) -> Session:
    return Session(
        row["id_sha256"], row["user_id"], row["username"], Role(row["role"]), row["site"],
        Stage(row["stage"]), row["csrf"], row["created_at"], row["last_seen"], row["ip"],
        row["pending_totp"], row["accepted"], row["refused"], row["held"],
        row["customer_id"],
    )  # fmt: skip


def _mac_fields(m: Any) -> list[Field]:
    """What a session row's MAC covers: who it is, with which role, where, at which stage."""
    return [m["id_sha256"], m["user_id"], m["username"], m["role"], m["site"], m["stage"],
            m["created_at"], m["customer_id"]]  # fmt: skip


class SqlSessions(_Own):
    """Console and portal sessions; a row is read only if this node wrote it (its MAC
    checks), so a session planted by SQL opens nothing."""

    def add(self, s: Session) -> None:
        values: dict[str, Any] = {
            "id_sha256": s.id_sha256, "user_id": s.user_id, "username": s.username,
            "role": str(s.role), "site": s.site, "stage": str(s.stage), "csrf": s.csrf,
            "created_at": s.created_at, "last_seen": s.last_seen, "ip": s.ip,
            "pending_totp": s.pending_totp, "accepted": s.accepted, "refused": s.refused,
            "held": s.held, "customer_id": s.customer_id,
        }  # fmt: skip
        with self._write() as conn:
            values["mac"] = row_mac(conn, SESSIONS_TABLE, _mac_fields(values))
            conn.execute(staff_sessions.insert().values(**values))

    def get(self, id_sha256: str) -> Session | None:
        t = staff_sessions
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(t).where(t.c.id_sha256 == id_sha256, ~_disabled(t.c.user_id)))
                .mappings()
                .first()
            )
            if row is None or not row_checks(
                conn, SESSIONS_TABLE, str(row["id_sha256"])[:12], _mac_fields(row), row["mac"]
            ):
                return None
        return _session(row)

    def for_user(self, user_id: str) -> list[Session]:
        t = staff_sessions
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.user_id == user_id)).mappings().all()
        return [_session(r) for r in rows]

    def counts(self, seen_after: int, created_after: int) -> dict[str, int]:
        t = staff_sessions
        q = (
            select(t.c.user_id, func.count())
            .where(t.c.last_seen > seen_after, t.c.created_at > created_after)
            .group_by(t.c.user_id)
        )
        with self.engine.connect() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(q)}

    def remove_user(self, user_id: str, id_prefix: str = "") -> int:
        t = staff_sessions
        q = delete(t).where(t.c.user_id == user_id)
        if id_prefix:
            q = q.where(t.c.id_sha256.startswith(id_prefix, autoescape=True))
        with self._write() as conn:
            return int(conn.execute(q).rowcount)

    def purge(self, seen_before: int, created_before: int) -> int:
        t = staff_sessions
        q = delete(t).where(or_(t.c.last_seen <= seen_before, t.c.created_at <= created_before))
        with self._write() as conn:
            return int(conn.execute(q).rowcount)

    def _set(self, id_sha256: str, **values: Any) -> None:
        t = staff_sessions
        with self._write() as conn:
            conn.execute(update(t).where(t.c.id_sha256 == id_sha256).values(**values))

    def touch(self, id_sha256: str, at: int) -> None:
        self._set(id_sha256, last_seen=at)

    def set_pending_totp(self, id_sha256: str, secret: str | None) -> None:
        self._set(id_sha256, pending_totp=secret)

    def count(self, id_sha256: str, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome is one of {OUTCOMES}")
        column = staff_sessions.c[outcome]
        self._set(id_sha256, **{outcome: column + 1})

    def remove(self, id_sha256: str) -> None:
        t = staff_sessions
        with self._write() as conn:
            conn.execute(delete(t).where(t.c.id_sha256 == id_sha256))


class SqlSignInThrottle(_Own):
    def locked_until(self, username: str) -> int:
        t = staff_sign_in_throttle
        with self.engine.connect() as conn:
            found = conn.execute(
                select(t.c.locked_until).where(t.c.username == username)
            ).scalar_one_or_none()
        return int(found or 0)

    def fail(self, username: str, now: int, max_failures: int, lock_seconds: int) -> bool:
        t = staff_sign_in_throttle
        with self._write() as conn:
            row = conn.execute(
                select(t.c.failures).where(t.c.username == username).with_for_update()
            ).first()
            failures = (row[0] if row else 0) + 1
            locked = failures >= max_failures
            values = {"failures": 0 if locked else failures,
                      "locked_until": now + lock_seconds if locked else 0,
                      "last_failure": now}  # fmt: skip
            if row is None:
                conn.execute(t.insert().values(username=username, **values))
            else:
                conn.execute(update(t).where(t.c.username == username).values(**values))
        return locked

    def clear(self, username: str) -> None:
        t = staff_sign_in_throttle
        with self._write() as conn:
            conn.execute(delete(t).where(t.c.username == username))

    def purge(self, now: int, untouched_since: int) -> int:
        t = staff_sign_in_throttle
        q = delete(t).where(t.c.locked_until <= now, t.c.last_failure < untouched_since)
        with self._write() as conn:
            return int(conn.execute(q).rowcount)


class SqlTotpSteps(_Own):
    def use(self, user_id: str, step: int) -> bool:
        t = staff_totp_steps
        with self._write() as conn:
            row = conn.execute(
                select(t.c.last_step).where(t.c.user_id == user_id).with_for_update()
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(t.insert().values(user_id=user_id, last_step=step))
                except IntegrityError:
                    return False  # another process accepted a code for this user just now
                return True
            done = conn.execute(
                update(t).where(t.c.user_id == user_id, t.c.last_step < step).values(last_step=step)
            )
            return int(done.rowcount) == 1


class SqlStaffStatus:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, user_id: str) -> StaffStatus | None:
        t = staff_status
        row = self.conn.execute(select(t).where(t.c.user_id == user_id)).mappings().first()
        return None if row is None else _status(row)

    def all(self) -> dict[str, StaffStatus]:
        rows = self.conn.execute(select(staff_status)).mappings()
        return {r["user_id"]: _status(r) for r in rows}


def _status(row: Any) -> StaffStatus:
    return StaffStatus(row["user_id"], row["disabled_at"], row["disabled_reason"],
                       row["last_sign_in_at"])  # fmt: skip


class SqlTotp:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, user_id: str) -> TotpRecord | None:
        t = staff_totp
        row = self.conn.execute(select(t).where(t.c.user_id == user_id)).mappings().first()
        if row is None:
            return None
        codes = tuple(json.loads(row["recovery_sha256"]))
        return TotpRecord(row["user_id"], row["sealed_secret"], codes)

    def enrolled(self) -> set[str]:
        return set(self.conn.execute(select(staff_totp.c.user_id)).scalars())


@totp_p.on(TotpEnrolled)
def _enrolled(conn: Connection, events: Sequence[StoredEvent[TotpEnrolled]]) -> None:
    t = staff_totp
    for e in events:
        conn.execute(delete(t).where(t.c.user_id == e.event.user_id))
        conn.execute(
            t.insert().values(
                user_id=e.event.user_id,
                sealed_secret=e.event.sealed_secret,
                recovery_sha256=json.dumps(e.event.recovery_sha256),
                enrolled_at=e.recorded_at,
            )
        )


@totp_p.on(RecoveryCodeUsed)
def _spent(conn: Connection, events: Sequence[StoredEvent[RecoveryCodeUsed]]) -> None:
    t = staff_totp
    for e in events:
        row = conn.execute(
            select(t.c.recovery_sha256).where(t.c.user_id == e.event.user_id)
        ).first()
        if row is not None:
            left = [h for h in json.loads(row[0]) if h != e.event.code_sha256]
            conn.execute(
                update(t)
                .where(t.c.user_id == e.event.user_id)
                .values(recovery_sha256=json.dumps(left))
            )


def _upsert_status(conn: Connection, user_id: str, **values: Any) -> None:
    t = staff_status
    done = conn.execute(update(t).where(t.c.user_id == user_id).values(**values))
    if not done.rowcount:
        conn.execute(t.insert().values({"user_id": user_id, "disabled_reason": "", **values}))


@staff_status_p.on(StaffDisabled)
def _disabled_event(conn: Connection, events: Sequence[StoredEvent[StaffDisabled]]) -> None:
    for e in events:
        _upsert_status(conn, e.event.user_id, disabled_at=e.recorded_at,
                       disabled_reason=e.event.reason)  # fmt: skip


@staff_status_p.on(StaffEnabled)
def _enabled_event(conn: Connection, events: Sequence[StoredEvent[StaffEnabled]]) -> None:
    for e in events:
        _upsert_status(conn, e.event.user_id, disabled_at=None, disabled_reason="")


@staff_status_p.on(AuditRecorded)
def _signed_in(conn: Connection, events: Sequence[StoredEvent[AuditRecorded]]) -> None:
    for e in events:
        if e.event.action == "staff.signed_in":
            _upsert_status(conn, e.event.target, last_sign_in_at=e.recorded_at)
