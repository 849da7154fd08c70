"""``SqlStore``: the event log and projections on SQLite (WAL) or PostgreSQL (psycopg 3).

One writer per site: on SQLite a process lock plus ``BEGIN IMMEDIATE``; on PostgreSQL an
advisory lock on the site taken with its head. A batch of events, its projection updates
and, when due, a signed checkpoint commit in one transaction. This is the
:class:`postex.eventlog.ports.Store` port; rebuilding (:mod:`.rebuild`) and restore, copy
and key operations (:mod:`.admin`) work on a store from their own modules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from time import perf_counter
from typing import Any, Protocol

from sqlalchemy import Connection, select

from postex.eventlog.authlog import (
    LogAuthority,
    LogHead,
    LogKey,
    NoAuthority,
    anchor_ahead_fault,
    missing_head_fault,
)
from postex.eventlog.chain import ZERO_HASH, format_time
from postex.eventlog.checkpoints import Signer, make_checkpoint
from postex.eventlog.events import Checkpoint, EventRow, StoredEvent
from postex.eventlog.ports import Clock
from postex.eventlog.sql import schema
from postex.eventlog.sql.engine import make_engine, normalise_url, readable
from postex.eventlog.sql.notes import sign_tree_head
from postex.eventlog.sql.projections import Projections
from postex.eventlog.sql.reading import read_rows
from postex.eventlog.sql.repositories import Repositories
from postex.eventlog.sql.tree import SqlTree
from postex.eventlog.sql.unit_of_work import APPEND_CHUNK, SqlUnitOfWork
from postex.kernel.errors import IntegrityError

CommitListener = Callable[[str, int], None]
FaultListener = Callable[[IntegrityError], None]


class WriteObserver(Protocol):
    """Told of each committed write that appended events (metrics; see http.metrics)."""

    def committed(
        self, site: str, types: Sequence[str], append_seconds: float, commit_seconds: float
    ) -> None: ...


class SqlStore:
    def __init__(
        self,
        url: str,
        clock: Clock,
        projections: Projections,
        repositories: Repositories,
        signer_for: Callable[[str], Signer | None] = lambda _site: None,
        checkpoint_every: int = 1000,
        authority: LogAuthority | None = None,
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
        self._fault_listeners: list[FaultListener] = []
        self.authority: LogAuthority = authority or NoAuthority()
        self._keys: dict[str, LogKey | None] = {}
        self.observer: WriteObserver | None = None  # set by the server, for its metrics
        # Write the Merkle tree's nodes with the appends (postex.eventlog.sql.tree) and sign
        # tree heads with checkpoints; only the benchmark's baseline turns it off.
        self.maintain_tree = True
        # Each site's open tile after its last append here: (first leaf, event hashes).
        self._open_tiles: dict[str, tuple[int, list[bytes]]] = {}

    # --- lifecycle -------------------------------------------------------------------
    def migrate(self) -> None:
        from postex.eventlog.sql.migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        for pool in (self._writer_pool, self._readers):
            if pool is not None:
                pool.shutdown()
        close = getattr(self.authority, "close", None)  # descriptors on anchor files
        if close is not None:
            close()
        self.engine.dispose()

    def readers(self) -> ThreadPoolExecutor:
        """The threads that read the next page of a log ahead of its reader."""
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

    def add_fault_listener(self, listener: FaultListener) -> None:
        """Called when a write transaction is refused because the log moved without the
        site's log key (after the rollback): the node raises an integrity alarm."""
        self._fault_listeners.append(listener)

    # --- the authenticated log (postex.eventlog.authlog) -----------------------------
    def log_key(self, site: str) -> LogKey | None:
        """The site's log key, or None when this node holds none for it (cached)."""
        if site not in self._keys:
            self._keys[site] = self.authority.key(site)
        return self._keys[site]

    def anchor_missing(self, site: str, log_seq: int) -> tuple[int, str] | None:
        """With no head row: a fault if the local anchor says there was one."""
        return missing_head_fault(self.authority.anchor(site), log_seq)

    def log_head(self, site: str) -> LogHead | None:
        """The site's authenticated head row as stored (its MAC is checked by the reader)."""
        with readable(self.engine, "the authenticated head"), self.engine.connect() as conn:
            row = conn.exec_driver_sql(
                f"SELECT seq, hash, mac FROM log_heads WHERE site = {self.ph}", (site,)
            ).first()
        return LogHead(site, int(row[0]), bytes(row[1]), bytes(row[2])) if row else None

    def authenticated_seq(self, site: str) -> int | None:
        """How far the site's log is authenticated: the MAC'd head's seq (0 if its MAC is
        not valid), or None without a log key or before the first authenticated head."""
        key = self.log_key(site)
        head = self.log_head(site) if key is not None else None
        if key is None or head is None:
            return None
        return head.seq if key.valid(head.seq, head.hash, head.mac) else 0

    def anchor_behind(self, site: str, head_seq: int, head_hash: bytes) -> tuple[int, str] | None:
        """With a head row: a fault if the local anchor lies past the log's head or differs
        at it (the database was cut or an older copy put back)."""
        return anchor_ahead_fault(self.authority.anchor(site), head_seq, head_hash)

    def _after_commit(self, site: str, uow: SqlUnitOfWork) -> None:
        """Move the local anchor to the head just committed (or signed, or first
        authenticated), so that a cut tail or an older copy of the database is found.

        The anchor is written after every write that appended, after its commit, so it
        never runs ahead of the log (a crash in between leaves it one write behind). It is
        fsynced for the first authenticated head and from the checkpoint timer and at
        shutdown (``uow.timer``); from appends the operating system writes it back with
        the database's own pages, so a power cut does not leave it further ahead of a
        SQLite database (``synchronous=NORMAL``) than it has to be.
        """
        mark = uow.written_head or uow.signed or uow.first_auth
        if mark is None or self.log_key(site) is None:
            return
        durable = uow.first_auth is not None or uow.timer
        self.authority.save_anchor(site, *mark, durable=durable)

    # --- the Merkle tree's open tile ----------------------------------------------------
    def open_tile(self, site: str, size: int, head_hash: bytes) -> tuple[int, list[bytes]]:
        """(first leaf, event hashes) of ``site``'s open tile up to ``size`` if this process
        wrote it last and it ends in ``head_hash`` (the chain commits to all before it),
        else ``(size, [])``: the tree reads the events table."""
        first, hashes = self._open_tiles.get(site, (0, []))
        if hashes and first + len(hashes) == size and hashes[-1] == head_hash:
            return first, hashes
        return size, []

    # --- transactions ----------------------------------------------------------------
    def site_lock(self, site: str) -> threading.Lock:
        """This process's lock on writing ``site`` (the database's lock is taken as well)."""
        with self._locks_guard:
            return self._site_locks.setdefault(site, threading.Lock())

    @contextmanager
    def write(self, site: str) -> Iterator[SqlUnitOfWork]:
        with self.site_lock(site), self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            uow = SqlUnitOfWork(self, conn, site, writable=True)
            started = perf_counter()
            conn.begin()
            try:
                uow.load_head()
                yield uow
                uow.finish()
            except IntegrityError as exc:
                conn.rollback()
                if uow.refused:
                    for fault_listener in self._fault_listeners:
                        fault_listener(exc)
                raise
            except BaseException:
                conn.rollback()
                raise
            ready = perf_counter()
            conn.commit()
        if uow.open_tile is not None:
            self._open_tiles[site] = uow.open_tile
        self._after_commit(site, uow)
        head = uow.new_head_seq
        if head is not None and self.observer is not None:
            self.observer.committed(site, uow.types, ready - started, perf_counter() - ready)
        if head is not None:
            for listener in self._listeners:
                listener(site, head)

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        with self.engine.connect() as conn:
            conn.begin()
            try:
                yield SqlUnitOfWork(self, conn, "", writable=False)
            finally:
                conn.rollback()

    # --- heads and checkpoints -------------------------------------------------------
    def upsert_head(self, conn: Connection, site: str, seq: int, digest: bytes, at: str) -> None:
        p = self.ph
        conn.exec_driver_sql(
            f"INSERT INTO heads (site, seq, hash, recorded_at) VALUES ({p}, {p}, {p}, {p}) "
            "ON CONFLICT (site) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
            "recorded_at = excluded.recorded_at",
            (site, seq, digest, at),
        )

    def checkpoint_if_due(
        self, conn: Connection, site: str, seq: int, digest: bytes, tree: SqlTree | None = None
    ) -> bool:
        """Sign (seq, digest) if a checkpoint is due; whether one was signed. ``tree``: the
        append's Merkle tree (its new leaves in memory) for the tree head."""
        signer = self.signer_for(site)
        if signer is None:
            return False
        last = self._last_checkpoint(conn, site)
        if seq - last >= self.checkpoint_every:
            at = self._now()
            insert_checkpoint(conn, make_checkpoint(signer, site, seq, digest, at))
            if self.maintain_tree:
                sign_tree_head(conn, signer, site, seq, at, tree)
            return True
        return False

    def checkpoint_now(self, site: str) -> Checkpoint | None:
        """Sign the site's current head unless it is already checkpointed (shutdown, timer)."""
        signer = self.signer_for(site)
        if signer is None:
            return None
        with self.write(site) as uow:  # refused (IntegrityError) if the log moved without the key
            seq, digest, _ = uow.load_head()
            if seq == 0:
                return None
            if self._last_checkpoint(uow.conn, site) >= seq:
                uow.signed, uow.timer = (seq, digest), True  # the anchor catches up, if behind
                return None
            cp = make_checkpoint(signer, site, seq, digest, self._now())
            insert_checkpoint(uow.conn, cp)
            sign_tree_head(uow.conn, signer, site, seq, cp.signed_at)
            uow.signed, uow.timer = (seq, digest), True
            if self.log_key(site) is not None and not uow.has_auth_row:
                uow.authenticate(seq, digest)  # an upgraded log: its first authenticated head
            return cp

    def save_checkpoint(self, cp: Checkpoint) -> None:
        """Store a checkpoint signed elsewhere (a witness copy, or a restored one); replaces
        none. A site restoring its own log signs the tree head at that size again: Ed25519
        is deterministic, so the note is the one its receipts were issued against, and the
        witness cosignatures of that size can be fetched back."""
        signer = self.signer_for(cp.site) if self.maintain_tree else None
        with self.engine.begin() as conn:
            insert_checkpoint(conn, cp)
            if signer is not None and cp.seq <= self._tree_size(conn, cp.site):
                have = conn.exec_driver_sql(
                    f"SELECT 1 FROM tree_notes WHERE site = {self.ph} AND size = {self.ph}",
                    (cp.site, cp.seq),
                ).first()
                if have is None:
                    sign_tree_head(conn, signer, cp.site, cp.seq, cp.signed_at)

    def _tree_size(self, conn: Connection, site: str) -> int:
        """The number of leaves of the site's tree (its head: every event is a leaf)."""
        row = conn.exec_driver_sql(
            f"SELECT max(seq) FROM events WHERE site = {self.ph}", (site,)
        ).first()
        return int(row[0] or 0) if row is not None else 0

    def _last_checkpoint(self, conn: Connection, site: str) -> int:
        last = conn.exec_driver_sql(
            f"SELECT max(seq) FROM checkpoints WHERE site = {self.ph}", (site,)
        ).scalar()
        return int(last or 0)

    def _now(self) -> str:
        return format_time(self.clock.now())

    # --- reading ---------------------------------------------------------------------
    def sites(self) -> list[str]:
        with readable(self.engine, "the list of sites"), self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT DISTINCT site FROM events UNION SELECT site FROM checkpoints"
            )
            return sorted(r[0] for r in rows)

    def head(self, site: str) -> tuple[int, bytes]:
        with readable(self.engine, "the head of the log"), self.engine.connect() as conn:
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
        """See :func:`postex.eventlog.sql.reading.read_rows`."""
        return read_rows(self.engine, self.readers(), site, after_seq, until_seq, batch)

    def checkpoints(self, site: str) -> list[Checkpoint]:
        with readable(self.engine, "checkpoints"):
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


def insert_checkpoint(conn: Connection, cp: Checkpoint) -> None:
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
