"""Rebuilding projections from the log: :class:`postex.eventlog.ports.Rebuilder` on SQL.

Projections are a cache of the log: ``postex rebuild`` empties every projection table and
replays the events through the same handlers the appends ran, and
:meth:`SqlRebuilder.projection_digest` lets a test or an operator check that the result
equals what was built live.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable

from sqlalchemy import select

from postex.eventlog.events import StoredEvent
from postex.eventlog.ports import Progress
from postex.eventlog.sql import schema
from postex.eventlog.sql.engine import write_connection
from postex.eventlog.sql.store import SqlStore


class SqlRebuilder:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def rebuild(self, progress: Progress | None = None, batch: int = 5000) -> int:
        """Empty every projection and replay all sites' logs, merged by recorded time."""
        store = self.store
        streams = [
            ((ev.recorded_at, ev.site, ev.seq, ev) for ev in store.read_events(s))
            for s in store.sites()
        ]
        merged = (t[3] for t in heapq.merge(*streams, key=lambda t: (t[0], t[1], t[2])))
        return self.replay(merged, progress, batch)

    def replay(
        self, events: Iterable[StoredEvent], progress: Progress | None = None, batch: int = 5000
    ) -> int:
        """Empty every projection and the heads, then apply ``events`` in the order given
        (one transaction); each site's head is its last event. Returns the events applied."""
        store = self.store
        done = 0
        with write_connection(store.engine) as conn:
            conn.begin()
            try:
                for table in reversed([*store.projections.tables(), schema.heads]):
                    conn.execute(table.delete())
                chunk: list[StoredEvent] = []
                heads: dict[str, StoredEvent] = {}
                for ev in events:
                    chunk.append(ev)
                    heads[ev.site] = ev
                    if len(chunk) >= batch:
                        store.projections.apply(conn, chunk)
                        done += len(chunk)
                        chunk = []
                        if progress:
                            progress(done)
                store.projections.apply(conn, chunk)
                done += len(chunk)
                for site, ev in heads.items():
                    store.upsert_head(conn, site, ev.seq, ev.hash, ev.recorded_at)
                if progress:
                    progress(done)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        return done

    def projection_digest(self) -> dict[str, tuple[int, str]]:
        """Row count and SHA-256 of every projection table's rows in key order."""
        out: dict[str, tuple[int, str]] = {}
        with self.store.engine.connect() as conn:
            for table in [*self.store.projections.tables(), schema.heads]:
                order = list(table.primary_key.columns) or list(table.columns)
                h = hashlib.sha256()
                count = 0
                for row in conn.execute(select(table).order_by(*order)):
                    h.update(repr(tuple(row)).encode())
                    count += 1
                out[table.name] = (count, h.hexdigest())
        return out
