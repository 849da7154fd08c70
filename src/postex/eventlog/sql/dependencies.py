"""Projecting other nodes' logs in dependency order (docs/log-format.md, "Rules across logs").

An event is projected only once every version it ``saw`` (postex.eventlog.saw) is applied
here with the same hash; each log is projected in seq order, so an event that must wait
holds back every later event of its log. The verified copy is stored all the same: only
its projection waits. ``log_waits`` (one row per waiting log, written in the transaction
that stores the events) says how far each log is projected and on what it waits; a log
without a row is projected through its head.

:class:`Dependencies` is used live, by :meth:`SqlLogAdmin.import_events` (the hub's and a
follower's copies): :meth:`admit` the stored run, then :meth:`retry` the waiting logs until
nothing more applies; and by ``postex rebuild`` (:meth:`feed`, one event at a time in the
merged order, from empty tables).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Connection

from postex.eventlog.events import StoredEvent
from postex.eventlog.saw import Blocked, Version, Wait, needs
from postex.eventlog.sql.fast import execute, executemany, fetchall

_CHUNK = 500
_READ = 5000
_RECENT = 200_000  # hashes of events applied in this run, kept to spare look-ups


def read_waits(conn: Connection) -> list[Wait]:
    """The waiting logs, by site."""
    rows = fetchall(
        conn,
        "SELECT site, projected_seq, on_site, on_seq, on_hash, found_hash, since, live_from"
        " FROM log_waits ORDER BY site",
    )
    return [
        Wait(
            str(r[0]), int(r[1]),
            Blocked(str(r[0]), int(r[1]) + 1, (str(r[2]), int(r[3]), bytes(r[4])),
                    bytes(r[5]) if r[5] is not None else None),
            str(r[6]), int(r[7]) if r[7] is not None else None,
        )
        for r in rows
    ]  # fmt: skip


class Dependencies:
    """Which events are applied here, and which logs wait (one transaction's view)."""

    def __init__(self, conn: Connection, now: str, *, fresh: bool = False) -> None:
        self.conn = conn
        self.now = now
        self.fresh = fresh  # a rebuild: nothing applied yet, every wait recomputed
        self.waits: dict[str, Wait] = {} if fresh else {w.site: w for w in read_waits(conn)}
        self._through: dict[str, int] = {}
        self._hashes: dict[tuple[str, int], bytes] = {}
        self._changed: set[str] = set()
        self._seen: dict[str, int] = {}  # rebuild: how far the merged order has reached
        self._live: dict[str, int] = {}  # a released own log's live_from, while retrying it

    # --- what is applied -------------------------------------------------------------
    def through(self, site: str) -> int:
        """The seq ``site``'s log is projected through here."""
        wait = self.waits.get(site)
        if wait is not None:
            return wait.projected_seq
        if site not in self._through:
            if self.fresh:
                self._through[site] = 0
            else:
                rows = fetchall(self.conn, "SELECT seq FROM heads WHERE site = ?", [site])
                self._through[site] = int(rows[0][0]) if rows else 0
        return self._through[site]

    def _prefetch(self, events: Sequence[StoredEvent]) -> None:
        wanted: dict[str, set[int]] = {}
        for e in events:
            for site, seq, _ in needs(e):
                if (site, seq) not in self._hashes:
                    wanted.setdefault(site, set()).add(seq)
        for site, seqs in wanted.items():
            ordered = sorted(seqs)
            for start in range(0, len(ordered), _CHUNK):
                part = ordered[start : start + _CHUNK]
                marks = ", ".join(["?"] * len(part))
                for seq, digest in fetchall(
                    self.conn,
                    f"SELECT seq, hash FROM events WHERE site = ? AND seq IN ({marks})",
                    [site, *part],
                ):
                    self._hashes[(site, int(seq))] = bytes(digest)

    def _hash_at(self, site: str, seq: int) -> bytes | None:
        key = (site, seq)
        if key not in self._hashes:
            rows = fetchall(
                self.conn, "SELECT hash FROM events WHERE site = ? AND seq = ?", [site, seq]
            )
            if not rows:
                return None
            self._hashes[key] = bytes(rows[0][0])
        return self._hashes[key]

    def _unmet(self, site: str, seq: int, on: Version) -> Blocked | None:
        """Why the event at (site, seq) that saw ``on`` cannot be projected yet, if so."""
        on_site, on_seq, want = on
        if on_seq > self.through(on_site):
            return Blocked(site, seq, on)
        found = self._hash_at(on_site, on_seq)
        if found is None:
            return Blocked(site, seq, on)
        if found != want:
            return Blocked(site, seq, on, found)
        return None

    def check(self, event: StoredEvent) -> Blocked | None:
        """Why ``event`` cannot be projected now (None: every version it saw is applied)."""
        for on in needs(event):
            blocked = self._unmet(event.site, event.seq, on)
            if blocked is not None:
                return blocked
        return None

    def _applied(self, event: StoredEvent) -> None:
        self._through[event.site] = event.seq
        if len(self._hashes) > _RECENT:
            self._hashes.clear()
        self._hashes[(event.site, event.seq)] = event.hash

    def _block(self, blocked: Blocked) -> None:
        old = self.waits.get(blocked.site)
        since = old.since if old is not None and old.blocked == blocked else self.now
        live = old.live_from if old is not None else self._live.get(blocked.site)
        self.waits[blocked.site] = Wait(blocked.site, blocked.seq - 1, blocked, since, live)
        self._changed.add(blocked.site)

    # --- live: a stored run, then the waiting logs ------------------------------------
    def admit(self, site: str, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        """The leading events of ``site``'s run (which follows what is projected) that may
        be projected now, in order; the log waits from the first that may not."""
        if site in self.waits or not events:
            return []
        self._prefetch(events)
        ready: list[StoredEvent] = []
        for e in events:
            blocked = self.check(e)
            if blocked is not None:
                self._block(blocked)
                break
            ready.append(e)
            self._applied(e)
        return ready

    def _resolved(self, wait: Wait) -> bool:
        """Whether what ``wait`` waits on is applied now with the hash it saw (a hash that
        differs stays recorded: the log keeps waiting)."""
        blocked = self._unmet(wait.site, wait.blocked.seq, wait.blocked.on)
        if blocked is None:
            return True
        if blocked != wait.blocked:
            self._block(blocked)
        return False

    def retry(self) -> list[StoredEvent]:
        """The waiting logs' events that may be projected now, in the order to project them
        (repeatedly, until nothing more applies)."""
        ready: list[StoredEvent] = []
        progress = True
        while progress and self.waits:
            progress = False
            for site in sorted(self.waits):
                wait = self.waits[site]
                if not self._resolved(wait):
                    continue
                del self.waits[site]
                self._changed.add(site)
                self._through[site] = wait.projected_seq
                if wait.live_from is not None:
                    self._live[site] = wait.live_from
                for batch in self._stored_after(site, wait.projected_seq, wait.live_from):
                    got = self.admit(site, batch)
                    ready += got
                    progress = progress or bool(got)
                    if site in self.waits:
                        break
                if site not in self.waits and wait.live_from is not None:
                    self._through.pop(site, None)  # projected through its head (live after)
                    self._live.pop(site, None)
        return ready

    def _stored_after(
        self, site: str, after: int, live_from: int | None = None
    ) -> Iterator[list[StoredEvent]]:
        """The stored events of ``site`` after ``after`` (in a rebuild: only those the
        merged order has reached; for an own log written to while it waited: only those
        before ``live_from``, the rest was projected as it was written), in batches."""
        until = self._seen.get(site) if self.fresh else None
        if live_from is not None:
            until = live_from - 1 if until is None else min(until, live_from - 1)
        while True:
            sql = (
                "SELECT site, seq, recorded_at, type, body, prev_hash, hash FROM events"
                " WHERE site = ? AND seq > ?"
            )
            params: list[object] = [site, after]
            if until is not None:
                sql += " AND seq <= ?"
                params.append(until)
            rows = fetchall(self.conn, sql + f" ORDER BY seq LIMIT {_READ}", params)
            if not rows:
                return
            yield [
                StoredEvent(str(r[0]), int(r[1]), str(r[2]), str(r[3]), bytes(r[4]),
                            bytes(r[5]), bytes(r[6]))
                for r in rows
            ]  # fmt: skip
            after = int(rows[-1][1])

    # --- rebuild: one event at a time, in the merged order ----------------------------
    def feed(self, event: StoredEvent) -> list[StoredEvent]:
        """The events to project now that ``event`` comes next in the merged order: none
        if its log waits (or must wait from it), else it and what it unblocks."""
        self._seen[event.site] = event.seq
        if event.site in self.waits:
            return []
        blocked = self.check(event)
        if blocked is not None:
            self._block(blocked)
            return []
        self._applied(event)
        if any(w.blocked.on[0] == event.site for w in self.waits.values()):
            return [event, *self.retry()]
        return [event]

    # --- what is kept -----------------------------------------------------------------
    def save(self) -> None:
        """Write the waiting logs that changed (all of them after a rebuild)."""
        if self.fresh:
            execute(self.conn, "DELETE FROM log_waits")
            changed = set(self.waits)
        else:
            changed = self._changed
            if not changed:
                return
            executemany(
                self.conn, "DELETE FROM log_waits WHERE site = ?", [(s,) for s in sorted(changed)]
            )
        executemany(
            self.conn,
            "INSERT INTO log_waits (site, projected_seq, on_site, on_seq, on_hash, found_hash,"
            " since, live_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (w.site, w.projected_seq, w.blocked.on[0], w.blocked.on[1], w.blocked.on[2],
                 w.blocked.found, w.since, w.live_from)
                for s in sorted(changed) if (w := self.waits.get(s)) is not None
            ],
        )  # fmt: skip
