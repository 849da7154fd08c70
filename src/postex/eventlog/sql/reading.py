"""Reading a site's log in seq order, a page at a time, with the next page read ahead.

Rows come straight from the DB-API cursor (binary results on psycopg) as
:data:`postex.eventlog.events.EventRow` tuples: verification hashes them as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine

from postex.eventlog.events import EventRow
from postex.eventlog.sql.engine import is_postgres, readable
from postex.eventlog.sql.fast import EVENT_COLUMN_NAMES

EVENT_COLUMNS = ", ".join(EVENT_COLUMN_NAMES)


def read_rows(
    engine: Engine,
    readers: ThreadPoolExecutor,
    site: str,
    after_seq: int = 0,
    until_seq: int | None = None,
    batch: int = 5000,
) -> Iterator[EventRow]:
    """The site's events after ``after_seq`` in seq order, read in pages of ``batch``.

    Page k+1 is fetched on a ``readers`` thread while the caller works through page k: the
    database (and the driver's network wait) run while the caller hashes. Raises
    StoreUnreadableError if the database cannot be read.
    """
    pending = readers.submit(read_page, engine, site, after_seq, until_seq, batch)
    try:
        while True:
            rows = pending.result()
            full = len(rows) == batch
            if full:
                pending = readers.submit(read_page, engine, site, rows[-1][1], until_seq, batch)
            yield from rows
            if not full:
                return
    finally:
        pending.cancel()  # a caller that stops early leaves no read running behind it
        if not pending.cancelled():
            pending.exception()  # wait for it, but never raise while closing


def read_page(
    engine: Engine, site: str, after_seq: int, until_seq: int | None, batch: int
) -> list[EventRow]:
    """Up to ``batch`` events of ``site`` after ``after_seq`` (and up to ``until_seq``)."""
    postgres = is_postgres(engine)
    p = "%s" if postgres else "?"
    upper = f" AND seq <= {int(until_seq)}" if until_seq is not None else ""
    with readable(engine, f"events of {site}"), engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        # psycopg: binary results carry bytea as raw bytes, not hex text (3x faster).
        cur = raw.cursor(binary=True) if postgres else raw.cursor()
        if postgres:
            # Fresh bulk appends leave stale statistics; a bitmap scan then sorts
            # every page on disk. The primary key already yields seq order.
            cur.execute("SET LOCAL enable_bitmapscan = off")
        cur.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE site = {p} AND seq > {p}"
            f"{upper} ORDER BY seq LIMIT {int(batch)}",
            (site, after_seq),
        )
        rows: list[Any] = cur.fetchall()
        cur.close()
    if rows and type(rows[0][4]) is not bytes:  # drivers may hand back memoryviews
        rows = [(*r[:4], bytes(r[4]), bytes(r[5]), bytes(r[6])) for r in rows]
    return rows
