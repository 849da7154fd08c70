"""``SqlUnitOfWork``: one transaction on one connection, and the append hot path.

An append hashes its events into the site's chain and writes them with one batch insert
(binary COPY on PostgreSQL); on SQLite a long append is written in chunks on the store's
writer thread while this thread encodes the next chunk. Projections are applied in the
same transaction, so a use case reads its own writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from itertools import repeat
from typing import Any, Protocol

from sqlalchemy import Connection

from postex.eventlog.authlog import LogHead, LogKey, head_fault
from postex.eventlog.canonical import canonical
from postex.eventlog.catalogue import Event
from postex.eventlog.chain import ZERO_HASH, chain_hashes, format_time
from postex.eventlog.events import AnyEvent, NewEvent, StoredEvent
from postex.eventlog.ports import Clock
from postex.eventlog.sql.fast import execute, fetchall, insert_event_batch
from postex.eventlog.sql.projections import Projections
from postex.eventlog.sql.repositories import Repositories
from postex.eventlog.sql.tree import WIDTH as TILE_WIDTH
from postex.eventlog.sql.tree import SqlTree
from postex.eventlog.sql.tree import extend as extend_tree
from postex.eventlog.sql.versions import stamp_saw
from postex.kernel.errors import IntegrityError


class LogStore(Protocol):
    """What a unit of work needs of its store (:class:`postex.eventlog.sql.store.SqlStore`)."""

    projections: Projections
    repositories: Repositories
    clock: Clock
    is_postgres: bool
    ph: str
    append_chunk: int
    maintain_tree: bool  # False only in `postex bench proofs`' baseline

    def writer(self, fn: Callable[..., None], *args: Any) -> Future[None]: ...

    def upsert_head(
        self, conn: Connection, site: str, seq: int, digest: bytes, at: str
    ) -> None: ...

    def checkpoint_if_due(
        self, conn: Connection, site: str, seq: int, digest: bytes, tree: SqlTree | None = None
    ) -> bool: ...

    def log_key(self, site: str) -> LogKey | None: ...

    def open_tile(self, site: str, size: int, head_hash: bytes) -> tuple[int, list[bytes]]: ...

    def anchor_missing(self, site: str, log_seq: int) -> tuple[int, str] | None: ...

    def anchor_behind(
        self, site: str, head_seq: int, head_hash: bytes
    ) -> tuple[int, str] | None: ...


# The write path's one read: the head, the authenticated head and the newest stored seq.
_HEAD_AND_AUTH = (
    "SELECT h.seq, h.hash, h.recorded_at, l.seq, l.hash, l.mac,"
    " (SELECT e.seq FROM events e WHERE e.site = s.site ORDER BY e.seq DESC LIMIT 1),"
    " (SELECT w.projected_seq FROM log_waits w WHERE w.site = s.site)"
    " FROM (SELECT CAST(? AS VARCHAR(16)) AS site) s"
    " LEFT JOIN heads h ON h.site = s.site LEFT JOIN log_heads l ON l.site = s.site"
)

# Events per batch insert on SQLite: a long append writes one chunk while it encodes the next.
APPEND_CHUNK = 250


class SqlUnitOfWork:
    """One transaction on one connection; see :class:`postex.eventlog.ports.UnitOfWork`."""

    def __init__(self, store: LogStore, conn: Connection, site: str, writable: bool) -> None:
        self.store = store
        self.conn = conn
        self._site = site
        self._writable = writable
        self._head: tuple[int, bytes, str] | None = None
        self._key: LogKey | None = None
        self._auth_row = False  # whether the site has a log_heads row to update
        # The site's own log waits for a version it saw (after a restore, until the other
        # logs arrive): what is written meanwhile is projected at once (a use case reads
        # back what it wrote) and marked so that releasing the log does not project it again.
        self._waiting = False
        self.appended = 0
        self.signed: tuple[int, bytes] | None = None  # a checkpoint signed in this transaction
        self.timer = False  # signed by the checkpoint timer or at shutdown (not by an append)
        self.first_auth: tuple[int, bytes] | None = None  # the site's first authenticated head
        self.refused = False  # the log moved without the key: the store raises an alarm
        self.types: list[str] = []  # of the events appended, in order (for metrics)
        self._tree_from = 0  # the tree size before this transaction's appends
        self._leaves: list[bytes] = []  # the hashes of the events appended (the tree's leaves)
        self._tree_from_hash = ZERO_HASH  # the head's hash at _tree_from
        # After commit: the site's open tile (first leaf, event hashes), for the next append.
        self.open_tile: tuple[int, list[bytes]] | None = None

    @property
    def site(self) -> str:
        return self._site

    @property
    def new_head_seq(self) -> int | None:
        """The site's head seq after this transaction's appends; None if it appended none."""
        return self._head[0] if self.appended and self._head is not None else None

    def repo(self, port: type[Any]) -> Any:
        return self.store.repositories[port](self.conn)

    def load_head(self, fresh_ok: bool = False) -> tuple[int, bytes, str]:
        """(seq, hash, recorded_at) of the site's head, read once per transaction.

        On PostgreSQL this also takes the site's advisory lock: one writer per site, also
        across processes. When this node holds the site's log key, the same query reads
        the authenticated head and the newest stored seq: a log that moved without the key
        (events appended or a head rewritten by someone with only database access) raises
        IntegrityError before anything is written. ``fresh_ok`` lets an empty log without a
        head row start over despite a local anchor (a restore copying a log back).
        """
        if self._head is None:
            if self.store.is_postgres:
                self.conn.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", ("postex-site:" + self._site,)
                )
            key = self.store.log_key(self._site) if self._writable else None
            if key is None:
                row = self.conn.exec_driver_sql(
                    f"SELECT seq, hash, recorded_at FROM heads WHERE site = {self.store.ph}",
                    (self._site,),
                ).first()
                self._head = (row[0], bytes(row[1]), row[2]) if row else (0, ZERO_HASH, "")
                self._waiting = bool(
                    fetchall(self.conn, "SELECT 1 FROM log_waits WHERE site = ?", (self._site,))
                )
            else:
                self._head = self._authenticated_head(key, fresh_ok)
        return self._head

    def _authenticated_head(self, key: LogKey, fresh_ok: bool) -> tuple[int, bytes, str]:
        site = self._site
        (row,) = fetchall(self.conn, _HEAD_AND_AUTH, (site,))  # the DB-API cursor: cheaper
        head = (row[0], bytes(row[1]), row[2]) if row[0] is not None else (0, ZERO_HASH, "")
        stored = int(row[6] or 0)
        self._waiting = row[7] is not None
        if stored != head[0]:  # events written or removed behind the head's back
            if stored > head[0]:
                seq, why = head[0] + 1, f"events {head[0] + 1}..{stored} are not authenticated"
            else:
                seq, why = stored + 1, f"log ends at {stored} but its head says {head[0]}"
            self.refused = True
            raise IntegrityError(f"{why}; nothing written", site=site, seq=seq)
        auth = LogHead(site, row[3], bytes(row[4]), bytes(row[5])) if row[3] is not None else None
        self._key, self._auth_row = key, auth is not None
        if auth is None:
            # No head row: a new or just-upgraded log is trusted on first use, unless the
            # local anchor says this site had an authenticated head already.
            fault = None if fresh_ok and head[0] == 0 else self.store.anchor_missing(site, head[0])
        else:
            fault = head_fault(key, auth, head[0], head[1])
            if fault is None and not fresh_ok:  # a restore starts over below the anchor
                fault = self.store.anchor_behind(site, head[0], head[1])
        if fault is not None:
            self.refused = True
            raise IntegrityError(f"{fault[1]}; nothing written", site=site, seq=fault[0])
        return head

    @property
    def written_head(self) -> tuple[int, bytes] | None:
        """(seq, hash) of the site's head after this transaction's appends, if any."""
        return self._head[:2] if self.appended and self._head is not None else None

    @property
    def has_auth_row(self) -> bool:
        return self._auth_row

    def append(self, events: Sequence[AnyEvent]) -> list[StoredEvent[Any]]:
        if not self._writable:
            raise RuntimeError("append needs a write transaction")
        if not events:
            return []
        seq, prev, last_time = self.load_head()
        events = stamp_saw(self.conn, self._site, events)  # the versions of the items they change
        if not self.appended:
            self._tree_from, self._tree_from_hash = seq, prev
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
                self.types += types
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
                self._leaves += digests
        finally:
            if pending is not None:
                pending.result()  # never leave the connection busy, even on the way out
        self._head = (seq + n, prev, recorded_at)
        self.store.projections.apply(self.conn, stored)
        if self._waiting:
            execute(
                self.conn,
                "UPDATE log_waits SET live_from = ? WHERE site = ? AND live_from IS NULL",
                (seq + 1, site),
            )
        self.appended += n
        return stored

    def finish(self) -> None:
        """Before commit: record the new head (and its MAC), sign a checkpoint when due."""
        if self._head is None or not self.appended:
            return
        seq, digest, recorded_at = self._head
        self.store.upsert_head(self.conn, self._site, seq, digest, recorded_at)
        # The leaves of the open tile before this append come from the store's memory when
        # it holds them (checked against the head's hash), else from the events table.
        first, known = self.store.open_tile(self._site, self._tree_from, self._tree_from_hash)
        hashes = known + self._leaves
        tree = SqlTree(self.conn, self._site, first, hashes)
        start = seq - seq % TILE_WIDTH
        self.open_tile = (start, hashes[start - first :]) if start >= first else None
        if self.store.maintain_tree:
            extend_tree(self.conn, self._site, self._tree_from, self._leaves, tree)
        self.authenticate(seq, digest)
        if self.store.checkpoint_if_due(self.conn, self._site, seq, digest, tree):
            self.signed = (seq, digest)

    def authenticate(self, seq: int, digest: bytes) -> None:
        """Move the site's authenticated head to (seq, digest) (one statement)."""
        key = self._key
        if key is None:
            return
        mac = key.mac(seq, digest)
        if self._auth_row:
            execute(self.conn, "UPDATE log_heads SET seq = ?, hash = ?, mac = ? WHERE site = ?",
                    (seq, digest, mac, self._site))  # fmt: skip
        else:
            execute(self.conn, "INSERT INTO log_heads (site, seq, hash, mac) VALUES (?, ?, ?, ?)",
                    (self._site, seq, digest, mac))  # fmt: skip
            self._auth_row = True
            self.first_auth = (seq, digest)


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
