"""``SqlStore``: the event log and projections on SQLite (WAL) or PostgreSQL (psycopg 3).

One writer per site: on SQLite a process lock plus ``BEGIN IMMEDIATE``; on PostgreSQL a
``SELECT … FOR UPDATE`` of the site's row in ``heads``. A batch of events, its projection
updates and, when due, a signed checkpoint commit in one transaction.
"""

from __future__ import annotations

import hashlib
import heapq
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from itertools import repeat
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError as SQLAlchemyDatabaseError

from postex.eventlog.canonical import canonical
from postex.eventlog.catalogue import Event
from postex.eventlog.chain import ZERO_HASH, ChainState, chain_hashes, format_time, verify_events
from postex.eventlog.checkpoints import Signer, make_checkpoint
from postex.eventlog.events import AnyEvent, Checkpoint, EventRow, NewEvent, StoredEvent
from postex.eventlog.ports import Clock, Progress
from postex.eventlog.sql import schema
from postex.eventlog.sql.fast import EVENT_COLUMN_NAMES, insert_event_batch
from postex.eventlog.sql.projections import Projections
from postex.eventlog.sql.repositories import Repositories
from postex.kernel.errors import ConfigurationError, IntegrityError, StoreUnreadableError

CommitListener = Callable[[str, int], None]
# (site, first seq, recorded_at…, type…, body…, prev_hash…, hash…) of consecutive events
EventBatch = tuple[str, int, list[str], list[str], list[bytes], list[bytes], list[bytes]]
# Events per batch insert on SQLite: a long append writes one chunk while it encodes the next.
APPEND_CHUNK = 250
EVENT_COLUMNS = ", ".join(EVENT_COLUMN_NAMES)


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for both."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA secure_delete=ON")  # destroyed data keys leave no bytes behind
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: the hot b-tree pages of a busy site
            cur.execute("PRAGMA wal_autocheckpoint=10000")  # checkpoint (and fsync) per ~40 MiB
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("postex_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise ConfigurationError(f"unsupported database URL scheme: {parsed.get_backend_name()}")


class SqlUnitOfWork:
    """One transaction on one connection; see :class:`postex.eventlog.ports.UnitOfWork`."""

    def __init__(self, store: SqlStore, conn: Connection, site: str, writable: bool) -> None:
        self.store = store
        self.conn = conn
        self._site = site
        self._writable = writable
        self._head: tuple[int, bytes, str] | None = None
        self.appended = 0

    @property
    def site(self) -> str:
        return self._site

    def repo(self, port: type[Any]) -> Any:
        return self.store.repositories[port](self.conn)

    def _load_head(self) -> tuple[int, bytes, str]:
        if self._head is None:
            if self.store.is_postgres:  # one writer per site, also across processes
                self.conn.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", ("postex-site:" + self._site,)
                )
            row = self.conn.exec_driver_sql(
                f"SELECT seq, hash, recorded_at FROM heads WHERE site = {self.store.ph}",
                (self._site,),
            ).first()
            self._head = (row[0], bytes(row[1]), row[2]) if row else (0, ZERO_HASH, "")
        return self._head

    def append(self, events: Sequence[AnyEvent]) -> list[StoredEvent[Any]]:
        if not self._writable:
            raise RuntimeError("append needs a write transaction")
        if not events:
            return []
        seq, prev, last_time = self._load_head()
        site = self._site
        now = format_time(self.store.clock.now())
        recorded_at = now if now > last_time else last_time  # monotonic within a site
        n = len(events)
        stored: list[StoredEvent] = []
        pending: Future[None] | None = None
        try:
            # Encode and hash chunk k+1 while SQLite writes chunk k: the batch insert runs
            # in SQLite's C code without the interpreter lock, on the other core.
            for start in range(0, n, self.store.append_chunk):
                chunk = events[start : start + self.store.append_chunk]
                m = len(chunk)
                first = seq + 1 + start
                types, bodies, typed = _records(chunk)
                part = [canonical(body) for body in bodies]
                digests = chain_hashes(prev, site, first, recorded_at, types, part)
                prevs = [prev, *digests[:-1]]
                times = [recorded_at] * m
                args = (self.conn, site, first, times, types, part, prevs, digests)
                if pending is not None:
                    pending.result()
                if pending is None and start + m == n:  # one chunk: nothing to overlap with
                    insert_event_batch(*args)
                else:
                    pending = self.store.writer(insert_event_batch, *args)
                stored += map(StoredEvent, repeat(site, m), range(first, first + m), times,
                              types, part, prevs, digests, bodies, typed)  # fmt: skip
                prev = digests[-1]
        finally:
            if pending is not None:
                pending.result()  # never leave the connection busy, even on the way out
        self._head = (seq + n, prev, recorded_at)
        self.store.projections.apply(self.conn, stored)
        self.appended += n
        return stored

    def finish(self) -> None:
        """Before commit: record the new head and sign a checkpoint when one is due."""
        if self._head is None or not self.appended:
            return
        seq, digest, recorded_at = self._head
        self.store.upsert_head(self.conn, self._site, seq, digest, recorded_at)
        self.store.checkpoint_if_due(self.conn, self._site, seq, digest)


def _records(
    events: Sequence[Event | NewEvent],
) -> tuple[list[str], list[dict[str, Any]], list[Event | None]]:
    """Type strings, bodies and catalogue records of events to append."""
    types: list[str] = []
    bodies: list[dict[str, Any]] = []
    typed: list[Event | None] = []
    for ev in events:
        if isinstance(ev, Event):
            types.append(ev.TYPE)
            bodies.append(ev.to_body())
            typed.append(ev)
        else:
            types.append(ev.type)
            bodies.append(ev.body)
            typed.append(None)
    return types, bodies, typed


class SqlStore:
    def __init__(
        self,
        url: str,
        clock: Clock,
        projections: Projections,
        repositories: Repositories,
        signer_for: Callable[[str], Signer | None] = lambda _site: None,
        checkpoint_every: int = 1000,
    ) -> None:
        self.projections = projections
        self.repositories = repositories
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.clock = clock
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self.ph = "%s" if self.is_postgres else "?"
        self.signer_for = signer_for
        self.checkpoint_every = checkpoint_every
        # SQLite writes an append's events in chunks on a writer thread while the caller's
        # thread encodes the next chunk (see SqlUnitOfWork.append); PostgreSQL's COPY is
        # client-side Python, so it gains nothing from a thread and takes one chunk.
        self.append_chunk = 10**9 if self.is_postgres else APPEND_CHUNK
        self._writer_pool: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._site_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._listeners: list[CommitListener] = []

    # --- lifecycle -------------------------------------------------------------------
    def migrate(self) -> None:
        from postex.eventlog.sql.migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        for pool in (self._writer_pool, self._readers):
            if pool is not None:
                pool.shutdown()
        self.engine.dispose()

    def _reader_pool(self) -> ThreadPoolExecutor:
        if self._readers is None:
            with self._locks_guard:
                if self._readers is None:
                    self._readers = ThreadPoolExecutor(4, thread_name_prefix="postex-read")
        return self._readers

    def writer(self, fn: Callable[..., None], *args: Any) -> Future[None]:
        """Run a statement of an append on the writer thread (SQLite) or right here."""
        if self.is_postgres:
            done: Future[None] = Future()
            fn(*args)
            done.set_result(None)
            return done
        if self._writer_pool is None:
            with self._locks_guard:
                if self._writer_pool is None:
                    self._writer_pool = ThreadPoolExecutor(4, thread_name_prefix="postex-append")
        return self._writer_pool.submit(fn, *args)

    def add_commit_listener(self, listener: CommitListener) -> None:
        """Called after each commit that appended events, with (site, new head seq)."""
        self._listeners.append(listener)

    # --- transactions ----------------------------------------------------------------
    def _lock(self, site: str) -> threading.Lock:
        with self._locks_guard:
            return self._site_locks.setdefault(site, threading.Lock())

    @contextmanager
    def write(self, site: str) -> Iterator[SqlUnitOfWork]:
        with self._lock(site), self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            uow = SqlUnitOfWork(self, conn, site, writable=True)
            conn.begin()
            try:
                uow._load_head()
                yield uow
                uow.finish()
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        if uow.appended and uow._head is not None:
            for listener in self._listeners:
                listener(site, uow._head[0])

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        with self.engine.connect() as conn:
            conn.begin()
            try:
                yield SqlUnitOfWork(self, conn, "", writable=False)
            finally:
                conn.rollback()

    # --- log access ------------------------------------------------------------------
    def upsert_head(self, conn: Connection, site: str, seq: int, digest: bytes, at: str) -> None:
        p = self.ph
        conn.exec_driver_sql(
            f"INSERT INTO heads (site, seq, hash, recorded_at) VALUES ({p}, {p}, {p}, {p}) "
            "ON CONFLICT (site) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
            "recorded_at = excluded.recorded_at",
            (site, seq, digest, at),
        )

    def checkpoint_if_due(self, conn: Connection, site: str, seq: int, digest: bytes) -> None:
        signer = self.signer_for(site)
        if signer is None:
            return
        last = conn.exec_driver_sql(
            f"SELECT max(seq) FROM checkpoints WHERE site = {self.ph}", (site,)
        ).scalar()
        if seq - (last or 0) >= self.checkpoint_every:
            self._save_checkpoint(conn, make_checkpoint(signer, site, seq, digest, self._now()))

    def checkpoint_now(self, site: str) -> Checkpoint | None:
        """Sign the site's current head unless it is already checkpointed (shutdown, timer)."""
        signer = self.signer_for(site)
        if signer is None:
            return None
        with self.write(site) as uow:
            seq, digest, _ = uow._load_head()
            last = uow.conn.exec_driver_sql(
                f"SELECT max(seq) FROM checkpoints WHERE site = {self.ph}", (site,)
            ).scalar()
            if seq == 0 or (last or 0) >= seq:
                return None
            cp = make_checkpoint(signer, site, seq, digest, self._now())
            self._save_checkpoint(uow.conn, cp)
            return cp

    def save_checkpoint(self, cp: Checkpoint) -> None:
        """Store a checkpoint signed elsewhere (a witness copy); replaces none."""
        with self.engine.begin() as conn:
            self._save_checkpoint(conn, cp)

    def _save_checkpoint(self, conn: Connection, cp: Checkpoint) -> None:
        conn.execute(
            schema.checkpoints.insert(),
            {
                "site": cp.site,
                "seq": cp.seq,
                "hash": cp.hash,
                "signed_at": cp.signed_at,
                "key_id": cp.key_id,
                "signature": cp.signature,
            },
        )

    def _now(self) -> str:
        return format_time(self.clock.now())

    @contextmanager
    def _readable(self, what: str) -> Iterator[None]:
        """Translate driver errors on reading the log into the project's own error."""
        dbapi_error = getattr(self.engine.dialect.loaded_dbapi, "DatabaseError", Exception)
        try:
            yield
        except (SQLAlchemyDatabaseError, dbapi_error) as exc:
            raise StoreUnreadableError(
                f"cannot read {what} from the store ({type(exc).__name__}): the database may be "
                "damaged, overwritten or encrypted; restore the site (docs/operations.md)"
            ) from None

    def sites(self) -> list[str]:
        with self._readable("the list of sites"), self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT DISTINCT site FROM events UNION SELECT site FROM checkpoints"
            )
            return sorted(r[0] for r in rows)

    def head(self, site: str) -> tuple[int, bytes]:
        with self._readable("the head of the log"), self.engine.connect() as conn:
            row = conn.exec_driver_sql(
                f"SELECT seq, hash FROM heads WHERE site = {self.ph}", (site,)
            ).first()
            return (row[0], bytes(row[1])) if row else (0, ZERO_HASH)

    def read_events(
        self, site: str, after_seq: int = 0, until_seq: int | None = None, batch: int = 5000
    ) -> Iterator[StoredEvent]:
        for r in self.read_rows(site, after_seq, until_seq, batch):
            yield StoredEvent(*r)

    def read_rows(
        self, site: str, after_seq: int = 0, until_seq: int | None = None, batch: int = 5000
    ) -> Iterator[EventRow]:
        """The site's events after ``after_seq`` in seq order, read in pages of ``batch``.

        Page k+1 is fetched on a reader thread while the caller works through page k: the
        database (and the driver's network wait) run while the caller hashes.
        """
        pool = self._reader_pool()
        pending = pool.submit(self._page, site, after_seq, until_seq, batch)
        try:
            while True:
                rows = pending.result()
                full = len(rows) == batch
                if full:
                    pending = pool.submit(self._page, site, rows[-1][1], until_seq, batch)
                yield from rows
                if not full:
                    return
        finally:
            pending.cancel()  # a caller that stops early leaves no read running behind it
            if not pending.cancelled():
                pending.exception()  # wait for it, but never raise while closing

    def _page(self, site: str, after_seq: int, until_seq: int | None, batch: int) -> list[EventRow]:
        p = self.ph
        upper = f" AND seq <= {int(until_seq)}" if until_seq is not None else ""
        with self._readable(f"events of {site}"), self.engine.connect() as conn:
            raw: Any = conn.connection.dbapi_connection
            # psycopg: binary results carry bytea as raw bytes, not hex text (3x faster).
            cur = raw.cursor(binary=True) if self.is_postgres else raw.cursor()
            if self.is_postgres:
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

    def checkpoints(self, site: str) -> list[Checkpoint]:
        with self._readable("checkpoints"):
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(schema.checkpoints)
                    .where(schema.checkpoints.c.site == site)
                    .order_by(schema.checkpoints.c.seq)
                ).all()
            return [
                Checkpoint(r.site, r.seq, bytes(r.hash), r.signed_at, r.key_id, bytes(r.signature))
                for r in rows
            ]

        # --- projections -----------------------------------------------------------------

    def rebuild(self, progress: Progress | None = None, batch: int = 5000) -> int:
        """Empty every projection and replay all sites' logs, merged by recorded time."""
        sites = self.sites()
        streams = [
            ((ev.recorded_at, ev.site, ev.seq, ev) for ev in self.read_events(s)) for s in sites
        ]
        merged = (t[3] for t in heapq.merge(*streams, key=lambda t: (t[0], t[1], t[2])))
        return self.replay(merged, progress, batch)

    def replay(
        self, events: Iterable[StoredEvent], progress: Progress | None = None, batch: int = 5000
    ) -> int:
        """Empty every projection and the heads, then apply ``events`` in the order given
        (one transaction); each site's head is its last event. Returns the events applied."""
        done = 0
        with self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            conn.begin()
            try:
                for table in reversed([*self.projections.tables(), schema.heads]):
                    conn.execute(table.delete())
                chunk: list[StoredEvent] = []
                heads: dict[str, StoredEvent] = {}
                for ev in events:
                    chunk.append(ev)
                    heads[ev.site] = ev
                    if len(chunk) >= batch:
                        self.projections.apply(conn, chunk)
                        done += len(chunk)
                        chunk = []
                        if progress:
                            progress(done)
                self.projections.apply(conn, chunk)
                done += len(chunk)
                for site, ev in heads.items():
                    self.upsert_head(conn, site, ev.seq, ev.hash, ev.recorded_at)
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
        with self.engine.connect() as conn:
            for table in [*self.projections.tables(), schema.heads]:
                order = list(table.primary_key.columns) or list(table.columns)
                h = hashlib.sha256()
                count = 0
                for row in conn.execute(select(table).order_by(*order)):
                    h.update(repr(tuple(row)).encode())
                    count += 1
                out[table.name] = (count, h.hexdigest())
        return out

    def flush_to_disk(self) -> None:
        """Write everything committed into the database files now: SQLite checkpoints its
        WAL (RESTART: the next write starts over at the head of the WAL file, as in
        steady operation), PostgreSQL runs CHECKPOINT. Benchmarks end each timed phase with it,
        so no phase leaves the cost of writing its pages to the next."""
        with self.engine.connect() as conn:
            if self.is_postgres:
                conn.exec_driver_sql("CHECKPOINT")
            else:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)")

    def copy_event_batches(self, table: str, batches: Sequence[EventBatch]) -> None:
        """Write ready-made event rows to ``table`` (a name from code) with the append's own
        batch insert, one transaction per batch and nothing else: a benchmark's baseline."""
        with self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            for batch in batches:
                conn.begin()
                insert_event_batch(conn, *batch, table=table)
                conn.commit()

    def execute_raw(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """For tests and drills that tamper with storage on purpose."""
        with self.engine.begin() as conn:
            result = conn.exec_driver_sql(sql, tuple(params))
            return [tuple(r) for r in result] if result.returns_rows else []

    # --- replication, backup and restore -----------------------------------------------
    def import_events(self, site: str, events: Sequence[StoredEvent], project: bool = True) -> int:
        """Append events hashed elsewhere (the hub's copy of a site, a restore) after the head.

        Every link and hash is checked against the site's head first; on the first bad one
        :class:`IntegrityError` is raised and nothing is written. ``project=False`` leaves
        the projections for a later :meth:`rebuild` (bulk restore).
        """
        if not events:
            return 0
        with self._lock(site), self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            uow = SqlUnitOfWork(self, conn, site, writable=True)
            conn.begin()
            try:
                seq, prev, _ = uow._load_head()
                fault = verify_events(ChainState(site, seq, prev), events)
                if fault is not None:
                    raise IntegrityError(fault.reason, site=fault.site, seq=fault.seq)
                insert_event_batch(
                    conn, site, events[0].seq, [e.recorded_at for e in events],
                    [e.type for e in events], [e.body for e in events],
                    [e.prev_hash for e in events], [e.hash for e in events],
                )  # fmt: skip
                if project:
                    self.projections.apply(conn, events)
                last = events[-1]
                self.upsert_head(conn, site, last.seq, last.hash, last.recorded_at)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        return len(events)

    def wipe(self) -> None:
        """Delete every event, checkpoint, data key and projection row (before a restore)."""
        with self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            conn.begin()
            try:
                for table in reversed(
                    [*self.projections.tables(), schema.heads, *schema.LOG_TABLES]
                ):
                    conn.execute(table.delete())
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def export_data_keys(self) -> list[tuple[str, str, bytes, str]]:
        """Every wrapped data key as (customer id, KEK id, wrapped, created at)."""
        t = schema.data_keys
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.customer_id, t.c.kek_id, t.c.wrapped, t.c.created_at).order_by(
                    t.c.customer_id
                )
            ).all()
        return [(r[0], r[1], bytes(r[2]), r[3]) for r in rows]

    def import_data_keys(self, keys: Sequence[tuple[str, str, bytes, str]]) -> int:
        """Put back wrapped data keys (restore); existing ones for the same customer stay."""
        t = schema.data_keys
        with self.engine.begin() as conn:
            have = {r[0] for r in conn.execute(select(t.c.customer_id))}
            rows = [
                {"customer_id": c, "kek_id": k, "wrapped": w, "created_at": at}
                for c, k, w, at in keys
                if c not in have
            ]
            if rows:
                conn.execute(t.insert(), rows)
        return len(rows)
