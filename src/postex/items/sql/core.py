"""The items projection (items, serials, tracking events) and its repositories."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Connection, Select, and_, or_, select

from postex.eventlog.events import StoredEvent
from postex.eventlog.sql import schema
from postex.eventlog.sql.fast import executemany, fetchall, insert_rows
from postex.eventlog.sql.projections import projection
from postex.items.app.preadvice import ItemFilter, ItemRecord
from postex.items.app.timeline import TrackingRow
from postex.items.events import ItemCancelled, ItemPreAdvised

SITE_TIMEZONE = "Europe/London"


@cache
def local_time(recorded_at: str, tz: str = SITE_TIMEZONE) -> str:
    """Event time in the site's zone with its offset, e.g. ``2026-11-23T22:48:36+00:00``."""
    moment = datetime.fromisoformat(recorded_at.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


# --- projections -------------------------------------------------------------------------
items_p = projection("items", schema.items, schema.serials, schema.tracking_events)

ITEM_COLUMNS = (
    "id", "customer_id", "origin_site", "service", "state", "held_from", "destination",
    "customs_form", "has_goods", "weight_g", "created_at", "updated_at", "advice_seq",
    "version_site", "version_seq", "version_hash",
)  # fmt: skip
ITEM_PG_TYPES = (
    "varchar", "varchar", "varchar", "varchar", "varchar", "varchar", "varchar", "varchar",
    "bool", "int4", "varchar", "varchar", "int8", "varchar", "int8", "bytea",
)  # fmt: skip
# Items joined to their pre-advice event, whose body holds the sealed personal data.
ITEMS_WITH_ADVICE = (
    "items JOIN events ON events.site = items.origin_site AND events.seq = items.advice_seq"
)
TRACKING_INSERT = (
    "INSERT INTO tracking_events (site, seq, item_id, code, occurred_at, occurred_utc, office,"
    " reason, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SERIAL_UPSERT = (
    "INSERT INTO serials (prefix, last_serial) VALUES (?, ?) ON CONFLICT (prefix) DO UPDATE"
    " SET last_serial = CASE WHEN excluded.last_serial > serials.last_serial"
    " THEN excluded.last_serial ELSE serials.last_serial END"
)


def tracking_row(
    e: StoredEvent[Any], item_id: str, code: str, office: str | None
) -> tuple[object, ...]:
    return (
        e.site,
        e.seq,
        item_id,
        code,
        local_time(e.recorded_at),
        e.recorded_at,
        office,
        None,
        "site",
    )


# A fresh item's state and hold are constants, and created_at is updated_at: on SQLite they
# are written by the statement rather than bound row by row (a fifth less binding work).
SQLITE_ITEM_INSERT = (
    "INSERT INTO items (id, customer_id, origin_site, service, state, held_from, destination,"
    " customs_form, has_goods, weight_g, created_at, updated_at, advice_seq, version_site,"
    " version_seq, version_hash)"
    " VALUES (?1, ?2, ?3, ?4, 'pre_advised', NULL, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?10, ?12)"
)


@items_p.on(ItemPreAdvised)
def _item_pre_advised(conn: Connection, events: Sequence[StoredEvent[ItemPreAdvised]]) -> None:
    serials: dict[str, int] = {}
    for e in events:
        item_id = e.event.item_id
        prefix, serial = item_id[:2], int(item_id[2:10])
        if serial > serials.get(prefix, 0):
            serials[prefix] = serial
    if conn.dialect.name == "sqlite":
        executemany(
            conn,
            SQLITE_ITEM_INSERT,
            [
                (d.item_id, d.customer_id, d.origin_site, d.service, d.destination,
                 d.customs_form, d.has_goods, d.weight_g, e.recorded_at, e.seq, e.site, e.hash)
                for e in events
                for d in (e.event,)
            ],
        )  # fmt: skip
    else:
        rows = [
            (d.item_id, d.customer_id, d.origin_site, d.service, "pre_advised", None,
             d.destination, d.customs_form, d.has_goods, d.weight_g, e.recorded_at,
             e.recorded_at, e.seq, e.site, e.seq, e.hash)
            for e in events
            for d in (e.event,)
        ]  # fmt: skip
        insert_rows(conn, "items", ITEM_COLUMNS, rows, ITEM_PG_TYPES)
    executemany(conn, SERIAL_UPSERT, list(serials.items()))


def set_state(conn: Connection, updates: Sequence[tuple[str, str | None, str, str]]) -> None:
    """(state, held_from, updated_at, item_id) for each item: the one way states change."""
    executemany(
        conn, "UPDATE items SET state = ?, held_from = ?, updated_at = ? WHERE id = ?", updates
    )


def set_versions(conn: Connection, updates: Sequence[tuple[str, int, bytes, str]]) -> None:
    """(log, seq, hash, item_id) for each item: the event now applied to it last (its
    version, which a change written here records as ``saw``)."""
    executemany(
        conn,
        "UPDATE items SET version_site = ?, version_seq = ?, version_hash = ? WHERE id = ?",
        updates,
    )


# States a cancel may leave: before any physical scan (docs/log-format.md, "a scan wins").
CANCELLABLE = ("pre_advised", "held")


@items_p.on(ItemCancelled)
def _item_cancelled(conn: Connection, events: Sequence[StoredEvent[ItemCancelled]]) -> None:
    """Cancel the items still cancellable. A cancel written at one node while another site
    accepted the item (neither had seen the other) arrives after the acceptance here: the
    scan wins, the cancel changes nothing (the tracking feature tells the customer)."""
    ids = sorted({e.event.item_id for e in events})
    marks = ", ".join(["?"] * len(ids))
    states = dict(fetchall(conn, f"SELECT id, state FROM items WHERE id IN ({marks})", ids))
    done = [e for e in events if states.get(e.event.item_id) in CANCELLABLE]
    set_state(conn, [("cancelled", None, e.recorded_at, e.event.item_id) for e in done])
    set_versions(conn, [(e.site, e.seq, e.hash, e.event.item_id) for e in done])  # refused: none
    executemany(
        conn, TRACKING_INSERT, [tracking_row(e, e.event.item_id, "CAN", None) for e in done]
    )


# --- repositories ------------------------------------------------------------------------
def sealed_of(advice_body: bytes) -> str:
    """The sealed personal data inside a pre-advice event's body."""
    sealed: str = orjson.loads(advice_body)["sealed"]
    return sealed


def item_select() -> Select[Any]:
    """Items with their pre-advice event's body (for :func:`_item`); add your own filters."""
    i, e = schema.items, schema.events
    return select(i, e.c.body).select_from(
        i.join(e, and_(e.c.site == i.c.origin_site, e.c.seq == i.c.advice_seq))
    )


def _item(row: object) -> ItemRecord:
    """An ItemRecord from a row of :func:`item_select`."""
    r = row._mapping  # type: ignore[attr-defined]
    return ItemRecord(
        id=r["id"], customer_id=r["customer_id"], origin_site=r["origin_site"],
        service=r["service"], state=r["state"], held_from=r["held_from"],
        destination=r["destination"], customs_form=r["customs_form"],
        has_goods=bool(r["has_goods"]), weight_g=r["weight_g"], created_at=r["created_at"],
        updated_at=r["updated_at"], sealed=sealed_of(bytes(r["body"])),
    )  # fmt: skip


def owned_items_query(
    q: Select[Any], customer_id: str, flt: ItemFilter, after: tuple[str, str] | None, limit: int
) -> Select[Any]:
    """One page of a customer's items, oldest first; the customer filter is always applied."""
    t = schema.items
    q = q.where(t.c.customer_id == customer_id)
    if flt.state:
        q = q.where(t.c.state == flt.state)
    if flt.destination:
        q = q.where(t.c.destination == flt.destination)
    if flt.service:
        q = q.where(t.c.service == flt.service)
    if flt.created_from:
        q = q.where(t.c.created_at >= flt.created_from)
    if flt.created_to:
        q = q.where(t.c.created_at < flt.created_to)
    if after is not None:
        created, item_id = after
        q = q.where(
            or_(t.c.created_at > created, and_(t.c.created_at == created, t.c.id > item_id))
        )
    return q.order_by(t.c.created_at, t.c.id).limit(limit)


# Advisory-lock key space of item stripes (two-int keys: apart from the site writer locks).
ITEM_LOCKS = 0x50535458  # "PSTX"
ITEM_STRIPES = 64


class SqlItems:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get_owned(self, customer_id: str, item_id: str) -> ItemRecord | None:
        t = schema.items
        row = self.conn.execute(
            item_select().where(t.c.id == item_id, t.c.customer_id == customer_id)
        ).first()
        return _item(row) if row else None

    def get_any(self, item_id: str) -> ItemRecord | None:
        t = schema.items
        row = self.conn.execute(item_select().where(t.c.id == item_id)).first()
        return _item(row) if row else None

    def list_owned(
        self, customer_id: str, flt: ItemFilter, after: tuple[str, str] | None, limit: int
    ) -> list[ItemRecord]:
        q = owned_items_query(item_select(), customer_id, flt, after, limit)
        return [_item(r) for r in self.conn.execute(q)]

    def last_serial(self, prefix: str) -> int | None:
        rows = fetchall(self.conn, "SELECT last_serial FROM serials WHERE prefix = ?", (prefix,))
        return int(rows[0][0]) if rows else None

    def lock_items(self, item_ids: Sequence[str]) -> None:
        # SQLite: BEGIN IMMEDIATE already serialises every writer. PostgreSQL: writers of
        # different sites run at once (one advisory lock per site), so the items are locked
        # too: by stripe (crc32 of the id into ITEM_STRIPES transaction advisory locks, in
        # order, so batches cannot deadlock). Row locks (SELECT ... FOR UPDATE) would do the
        # same but cost a third of batch-acceptance throughput (a WAL record per item); a
        # single scan takes one stripe, a batch at most ITEM_STRIPES locks and no writes.
        if self.conn.dialect.name != "postgresql" or not item_ids:
            return
        stripes = sorted({zlib.crc32(i.encode()) % ITEM_STRIPES for i in item_ids})
        locks = ", ".join(f"pg_advisory_xact_lock({ITEM_LOCKS}, {n})" for n in stripes)
        self.conn.exec_driver_sql(f"SELECT {locks}")


class SqlTracking:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def timeline(self, item_id: str) -> list[TrackingRow]:
        """The PRE entry comes from the item itself (saving a row per pre-advice); the rest
        from tracking_events, in event-time order."""
        t = schema.tracking_events
        rows = self.conn.execute(
            select(t).where(t.c.item_id == item_id).order_by(t.c.occurred_utc, t.c.site, t.c.seq)
        )
        timeline = [
            TrackingRow(r.item_id, r.code, r.occurred_at, r.occurred_utc, r.office, r.reason,
                        r.source, r.site, r.seq)
            for r in rows
        ]  # fmt: skip
        i = schema.items
        item = self.conn.execute(
            select(i.c.created_at, i.c.origin_site).where(i.c.id == item_id)
        ).first()
        if item is not None:
            pre = TrackingRow(item_id, "PRE", local_time(item.created_at), item.created_at,
                              None, None, "site", item.origin_site, 0)  # fmt: skip
            timeline.insert(0, pre)
        return timeline
