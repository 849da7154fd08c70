"""Operations on a log beyond use cases: :class:`postex.eventlog.ports.LogAdmin` on SQL.

Copying in events hashed elsewhere (the hub's copy of a site, a restore), wiping a store
before a restore, moving wrapped data keys, and signing or storing checkpoints. Also
:func:`execute_raw`, for tests and drills that tamper with storage on purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy import exc as sa_exc

from postex.eventlog.authlog import Anchor
from postex.eventlog.chain import ChainState, format_time, verify_events
from postex.eventlog.events import Checkpoint, StoredEvent
from postex.eventlog.ports import DataKeyRow
from postex.eventlog.saw import Imported
from postex.eventlog.sql import schema
from postex.eventlog.sql.dependencies import Dependencies, read_waits
from postex.eventlog.sql.engine import write_connection
from postex.eventlog.sql.fast import execute, insert_event_batch
from postex.eventlog.sql.store import SqlStore
from postex.eventlog.sql.tree import extend as extend_tree
from postex.eventlog.sql.unit_of_work import SqlUnitOfWork
from postex.kernel.errors import IntegrityError

log = logging.getLogger("postex.replication")


def project_in_order(
    conn: Connection, store: SqlStore, site: str, events: Sequence[StoredEvent]
) -> Imported:
    """Project the stored run of ``site`` and every waiting log it unblocks, in dependency
    order (postex.eventlog.sql.dependencies); say which logs are left waiting for a fault
    (read from the waits this transaction already holds)."""
    deps = Dependencies(conn, format_time(store.clock.now()))
    store.projections.apply(conn, deps.admit(site, events))
    deps.save()
    if not deps.waits:
        return Imported(len(events))
    # The waiting logs it releases, under a savepoint: if a projection refuses them, they
    # keep waiting (retried with the next message), and this run stays projected.
    refused = (sa_exc.IntegrityError, conn.dialect.loaded_dbapi.IntegrityError)
    before = dict(deps.waits)
    execute(conn, "SAVEPOINT postex_released")
    try:
        store.projections.apply(conn, deps.retry())
        deps.save()
    except refused as exc:
        execute(conn, "ROLLBACK TO SAVEPOINT postex_released")
        execute(conn, "RELEASE SAVEPOINT postex_released")
        saved = read_waits(conn)  # as before the release
        released = {s for s, w in before.items() if deps.waits.get(s) != w}
        log.warning("released logs (%s) refused by a projection (%s): they keep waiting",
                    ", ".join(sorted(released)), type(exc).__name__)  # fmt: skip
        return Imported(
            len(events),
            tuple(w for w in saved if w.blocked.mismatch),
            tuple(w for w in saved if w.site in released),
        )
    execute(conn, "RELEASE SAVEPOINT postex_released")
    return Imported(len(events), tuple(w for w in deps.waits.values() if w.blocked.mismatch))


class SqlLogAdmin:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def import_events(self, site: str, events: Sequence[StoredEvent], project: bool = True) -> int:
        """Append events hashed elsewhere (the hub's copy of a site, a restore) after the head.

        Every link and hash is checked against the site's head first; on the first bad one
        :class:`IntegrityError` is raised and nothing is written. ``project=False`` leaves
        the projections for a later rebuild (bulk restore). Projected, each event waits
        for the versions it saw (:func:`project_in_order`).
        """
        return self.import_run(site, events, project).stored

    def import_run(
        self,
        site: str,
        events: Sequence[StoredEvent],
        project: bool = True,
        verified: bool = False,
    ) -> Imported:
        """:meth:`import_events`, also saying which logs a differing ``saw`` holds back.

        ``verified``: the caller has just checked the run's own links and hashes (the hub's
        and a follower's arrival checks), so only its link to the head is checked here.
        """
        if not events:
            return Imported(0)
        done = Imported(len(events))
        store = self.store
        with store.site_lock(site), write_connection(store.engine) as conn:
            uow = SqlUnitOfWork(store, conn, site, writable=True)
            conn.begin()
            try:
                # A keyed site's authenticated head is checked first and moved after: a
                # restore starts an empty log over (even below a local anchor).
                seq, prev, _ = uow.load_head(fresh_ok=True)
                first = events[0]
                if verified and (first.seq != seq + 1 or first.prev_hash != prev):
                    raise IntegrityError("the run does not extend the head", site=site, seq=seq + 1)
                fault = None if verified else verify_events(ChainState(site, seq, prev), events)
                if fault is not None:
                    raise IntegrityError(fault.reason, site=fault.site, seq=fault.seq)
                insert_event_batch(
                    conn, site, events[0].seq, [e.recorded_at for e in events],
                    [e.type for e in events], [e.body for e in events],
                    [e.prev_hash for e in events], [e.hash for e in events],
                )  # fmt: skip
                if project:
                    done = project_in_order(conn, store, site, events)
                extend_tree(conn, site, seq, [e.hash for e in events])
                last = events[-1]
                store.upsert_head(conn, site, last.seq, last.hash, last.recorded_at)
                uow.authenticate(last.seq, last.hash)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        return done

    def wipe(self) -> None:
        """Delete every event, checkpoint, data key and projection row (before a restore)."""
        tables = [
            *self.store.projections.tables(),
            schema.heads,
            schema.log_waits,
            *schema.LOG_TABLES,
        ]
        with write_connection(self.store.engine) as conn:
            conn.begin()
            try:
                for table in reversed(tables):
                    conn.execute(table.delete())
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def export_data_keys(self) -> list[DataKeyRow]:
        """Every wrapped data key as (customer id, KEK id, wrapped, created at)."""
        t = schema.data_keys
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.customer_id, t.c.kek_id, t.c.wrapped, t.c.created_at).order_by(
                    t.c.customer_id
                )
            ).all()
        return [(r[0], r[1], bytes(r[2]), r[3]) for r in rows]

    def import_data_keys(self, keys: Sequence[DataKeyRow]) -> int:
        """Put back wrapped data keys (restore); existing ones for the same customer stay."""
        t = schema.data_keys
        with self.store.engine.begin() as conn:
            have = {r[0] for r in conn.execute(select(t.c.customer_id))}
            rows = [
                {"customer_id": c, "kek_id": k, "wrapped": w, "created_at": at}
                for c, k, w, at in keys
                if c not in have
            ]
            if rows:
                conn.execute(t.insert(), rows)
        return len(rows)

    def save_checkpoint(self, cp: Checkpoint) -> None:
        """Store a checkpoint signed elsewhere (a witness copy); replaces none."""
        self.store.save_checkpoint(cp)

    def checkpoint_now(self, site: str) -> Checkpoint | None:
        """Sign the site's current head unless it is already checkpointed (shutdown, timer).

        Raises IntegrityError (and the store's fault listeners raise an alarm) when events
        lie past the authenticated head: the node never signs over them.
        """
        return self.store.checkpoint_now(site)

    def anchor(self, site: str) -> Anchor | None:
        """The site's local anchor, if this node keeps one."""
        return self.store.authority.anchor(site) if self.store.log_key(site) else None

    def reanchor(self, site: str) -> None:
        """Move the local anchor to the site's authenticated head, even backwards: after a
        restore whose copy was verified by its signed checkpoints."""
        head = self.store.log_head(site)
        if head is not None and self.store.log_key(site) is not None:
            self.store.authority.save_anchor(site, head.seq, head.hash, force=True)


def execute_raw(engine: Engine, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement in its own transaction; for tests and drills that tamper with
    storage on purpose (placeholders in the driver's style: ``?`` or ``%s``)."""
    with engine.begin() as conn:
        result = conn.exec_driver_sql(sql, tuple(params))
        return [tuple(r) for r in result] if result.returns_rows else []
