"""Customer API projections: idempotent answers and the blind index of item references.

Both are rebuilt from their events. A key answered again after its retention replaces the
expired answer (upsert); expiry events delete answers older than their cut-off. Every
customer query takes the customer id and filters by it in SQL: nothing is loaded for one
customer and filtered afterwards (``expired`` is housekeeping and returns digests only).

Also the shared rate-limit windows (``api_rate_windows``): operational state, not a
projection, written by every server process and never rebuilt from the log.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    select,
    text,
)

from postex.eventlog.events import StoredEvent
from postex.eventlog.sql import schema
from postex.eventlog.sql.fast import executemany
from postex.eventlog.sql.projections import projection
from postex.items.app.idempotency import PENDING, StoredAnswer
from postex.items.app.preadvice import ItemFilter, ItemRecord
from postex.items.app.timeline import TrackingRow
from postex.items.events import (
    IdempotencyClaimReleased,
    IdempotencyKeyClaimed,
    IdempotentAnswerRecorded,
    IdempotentAnswersExpired,
    IdempotentPlainAnswerRecorded,
    ItemReferencesIndexed,
)
from postex.items.sql.core import SqlTracking, _item, item_select, owned_items_query

idempotency_answers = Table(
    "idempotency_answers",
    schema.metadata,
    Column("customer_id", String(40), primary_key=True),
    Column("key_sha256", String(64), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("sealed", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Index("ix_idempotency_answers_created_at", "created_at"),
)

item_references = Table(
    "item_references",
    schema.metadata,
    Column("item_id", String(13), primary_key=True),
    Column("customer_id", String(40), nullable=False),
    Column("reference_hmac", String(64), nullable=False),
    Index("ix_item_references_customer_ref", "customer_id", "reference_hmac"),
)

customer_api_p = projection("customer_api", idempotency_answers, item_references)

# One row per API key that has made a request (see postex.accounts.app.rate_limits).
api_rate_windows = Table(
    "api_rate_windows",
    schema.metadata,
    Column("key_id", String(64), primary_key=True),
    Column("window_index", BigInteger, nullable=False),
    Column("previous_hits", Integer, nullable=False),
    Column("hits", Integer, nullable=False),
    Column("allowed", Integer, nullable=False),  # the answer to the last request, 1 or 0
)


UPSERT_ANSWER = (
    "INSERT INTO idempotency_answers (customer_id, key_sha256, request_sha256, status,"
    " sealed, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (customer_id, key_sha256)"
    " DO UPDATE SET request_sha256 = excluded.request_sha256, status = excluded.status,"
    " sealed = excluded.sealed, created_at = excluded.created_at"
)


@customer_api_p.on(IdempotentAnswerRecorded)
def _answer(conn: Connection, events: Sequence[StoredEvent[IdempotentAnswerRecorded]]) -> None:
    executemany(
        conn,
        UPSERT_ANSWER,
        [
            (d.customer_id, d.key_sha256, d.request_sha256, d.status, d.sealed, e.recorded_at)
            for e in events
            for d in (e.event,)
        ],
    )


@customer_api_p.on(IdempotencyKeyClaimed)
def _claimed(conn: Connection, events: Sequence[StoredEvent[IdempotencyKeyClaimed]]) -> None:
    executemany(
        conn,
        UPSERT_ANSWER,
        [
            (d.scope, d.key_sha256, d.request_sha256, PENDING, "", e.recorded_at)
            for e in events
            for d in (e.event,)
        ],
    )


@customer_api_p.on(IdempotentPlainAnswerRecorded)
def _plain_answer(
    conn: Connection, events: Sequence[StoredEvent[IdempotentPlainAnswerRecorded]]
) -> None:
    executemany(
        conn,
        UPSERT_ANSWER,
        [
            (d.scope, d.key_sha256, d.request_sha256, d.status,
             json.dumps(d.body, sort_keys=True, separators=(",", ":")), e.recorded_at)
            for e in events
            for d in (e.event,)
        ],
    )  # fmt: skip


@customer_api_p.on(IdempotencyClaimReleased)
def _released(conn: Connection, events: Sequence[StoredEvent[IdempotencyClaimReleased]]) -> None:
    executemany(
        conn,
        "DELETE FROM idempotency_answers WHERE customer_id = ? AND key_sha256 = ? AND status = ?",
        [(e.event.scope, e.event.key_sha256, PENDING) for e in events],
    )


@customer_api_p.on(IdempotentAnswersExpired)
def _expired(conn: Connection, events: Sequence[StoredEvent[IdempotentAnswersExpired]]) -> None:
    executemany(
        conn,
        "DELETE FROM idempotency_answers WHERE customer_id = ? AND key_sha256 = ?"
        " AND created_at < ?",
        [(customer_id, key, e.event.before) for e in events
         for customer_id, key in e.event.keys],
    )  # fmt: skip


@customer_api_p.on(ItemReferencesIndexed)
def _references(conn: Connection, events: Sequence[StoredEvent[ItemReferencesIndexed]]) -> None:
    executemany(
        conn,
        "INSERT INTO item_references (item_id, customer_id, reference_hmac) VALUES (?, ?, ?)",
        [(item_id, e.event.customer_id, ref) for e in events for item_id, ref in e.event.entries],
    )


class SqlIdempotency:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, customer_id: str, key_sha256: str) -> StoredAnswer | None:
        t = idempotency_answers
        row = self.conn.execute(
            select(t).where(t.c.customer_id == customer_id, t.c.key_sha256 == key_sha256)
        ).first()
        if row is None:
            return None
        return StoredAnswer(row.request_sha256, row.status, row.sealed, row.created_at)

    def expired(self, before: str, limit: int) -> list[tuple[str, str]]:
        t = idempotency_answers
        rows = self.conn.execute(
            select(t.c.customer_id, t.c.key_sha256)
            .where(t.c.created_at < before)
            .order_by(t.c.created_at)
            .limit(limit)
        )
        return [(r.customer_id, r.key_sha256) for r in rows]


class SqlCustomerItems:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def list_owned(
        self,
        customer_id: str,
        flt: ItemFilter,
        reference_index: str | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[ItemRecord]:
        t = schema.items
        q = item_select()
        if reference_index is not None:
            r = item_references
            q = q.join(r, r.c.item_id == t.c.id).where(
                r.c.customer_id == customer_id, r.c.reference_hmac == reference_index
            )
        q = owned_items_query(q, customer_id, flt, after, limit)
        return [_item(row) for row in self.conn.execute(q)]

    def timeline_owned(self, customer_id: str, item_id: str) -> list[TrackingRow]:
        i = schema.items
        owned = self.conn.execute(
            select(i.c.id).where(i.c.id == item_id, i.c.customer_id == customer_id)
        ).first()
        if owned is None:
            return []
        return SqlTracking(self.conn).timeline(item_id)  # PRE included, event-time order


_T = "api_rate_windows"
_CURRENT = f"(CASE WHEN {_T}.window_index >= :w THEN {_T}.hits ELSE 0 END)"
_PREVIOUS = (
    f"(CASE WHEN {_T}.window_index >= :w THEN {_T}.previous_hits"
    f" WHEN {_T}.window_index = :w - 1 THEN {_T}.hits ELSE 0 END)"
)
_ALLOWED = f"({_PREVIOUS} * :keep + {_CURRENT} + 1 <= :limit)"
TAKE = text(
    f"INSERT INTO {_T} (key_id, window_index, previous_hits, hits, allowed)"
    " VALUES (:key, :w, 0, 1, 1) ON CONFLICT (key_id) DO UPDATE SET"
    f" window_index = CASE WHEN {_T}.window_index > :w THEN {_T}.window_index ELSE :w END,"
    f" previous_hits = {_PREVIOUS},"
    f" hits = {_CURRENT} + CASE WHEN {_ALLOWED} THEN 1 ELSE 0 END,"
    f" allowed = CASE WHEN {_ALLOWED} THEN 1 ELSE 0 END"
    " RETURNING allowed"
)


class SqlRateWindows:
    """Sliding rate-limit windows in the database: one UPSERT (one round trip) per request.

    Its own short transaction, never the log writer's: on PostgreSQL an autocommit statement
    on the key's row (row lock only while it runs); on SQLite a ``BEGIN IMMEDIATE`` write of
    one row, which waits behind a running append (busy timeout).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    def take(self, key: str, window: int, keep: float, limit: int) -> bool:
        params = {"key": key, "w": window, "keep": keep, "limit": limit}
        with self.engine.connect() as conn:
            if self.postgres:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                return bool(conn.execute(TAKE, params).scalar_one())
            conn.execution_options(postex_write=True)
            with conn.begin():
                return bool(conn.execute(TAKE, params).scalar_one())
