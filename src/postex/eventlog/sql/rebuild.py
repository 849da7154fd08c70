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

from postex.eventlog.chain import format_time
from postex.eventlog.events import StoredEvent
from postex.eventlog.ports import Progress
from postex.eventlog.sql import schema
from postex.eventlog.sql.dependencies import Dependencies
from postex.eventlog.sql.engine import write_connection
from postex.eventlog.sql.store import SqlStore
from postex.eventlog.sql.tree import backfill
from postex.eventlog.verify import SiteAuth, verify_site_rows
from postex.kernel.errors import IntegrityError


class SqlRebuilder:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def rebuild(self, progress: Progress | None = None, batch: int = 5000) -> int:
        """Empty every projection and replay all sites' logs, merged by recorded time.

        Credentials, roles and keys are never taken from an unauthenticated event: first
        every log whose key this node holds must end exactly at its authenticated head
        (and reach its anchor), else IntegrityError names the first bad seq and nothing
        changes.
        """
        store = self.store
        for site in store.sites():
            self.authenticate(site)
        streams = [
            ((ev.recorded_at, ev.site, ev.seq, ev) for ev in store.read_events(s))
            for s in store.sites()
        ]
        merged = (t[3] for t in heapq.merge(*streams, key=lambda t: (t[0], t[1], t[2])))
        done = self.replay(merged, progress, batch)
        for site in store.sites():  # the Merkle tree is kept; only what is missing is written
            with store.site_lock(site), write_connection(store.engine) as conn, conn.begin():
                backfill(conn, site)
        return done

    def authenticate(self, site: str) -> None:
        """Raise IntegrityError unless ``site``'s log is the authenticated one (a no-op
        without its log key, or before its first authenticated head)."""
        store = self.store
        key = store.log_key(site)
        if key is None:
            return
        auth = SiteAuth(key, store.log_head(site), store.authority.anchor(site))
        report = verify_site_rows(site, store.read_rows(site), [], {}, auth=auth)
        fault = report.first_fault
        if fault is not None:
            raise IntegrityError(
                f"rebuild refused at {fault.site} seq {fault.seq}: {fault.reason}",
                site=fault.site, seq=fault.seq,
            )  # fmt: skip

    def replay(
        self, events: Iterable[StoredEvent], progress: Progress | None = None, batch: int = 5000
    ) -> int:
        """Empty every projection and the heads, then apply ``events`` in the order given
        (one transaction), except that an event waits until the versions it saw are applied
        (and every later event of its log with it); each site's head is its last event.
        Returns the events applied."""
        store = self.store
        done = 0
        with write_connection(store.engine) as conn:
            conn.begin()
            try:
                for table in reversed([*store.projections.tables(), schema.heads]):
                    conn.execute(table.delete())
                chunk: list[StoredEvent] = []
                heads: dict[str, StoredEvent] = {}
                deps = Dependencies(conn, format_time(store.clock.now()), fresh=True)
                for ev in events:
                    chunk += deps.feed(ev)  # each event once the versions it saw are applied
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
                deps.save()  # the logs still waiting on a version they saw
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
