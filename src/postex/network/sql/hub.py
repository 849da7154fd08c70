"""The hub's copy of the sites' logs (:class:`HubStore`) on SQL, with its arrival journal."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from postex.eventlog.events import Checkpoint, StoredEvent
from postex.eventlog.ports import LogAdmin, Progress, Rebuilder
from postex.eventlog.saw import Imported, Wait
from postex.eventlog.sql.dependencies import read_waits
from postex.eventlog.sql.store import SqlStore
from postex.network.app.hub import ProjectionRefusedError
from postex.network.sql.tables import hub_arrivals


class HubCopy:
    """:class:`postex.network.app.hub.HubStore` on the hub's SQL store.

    A projection that refuses verified events (a constraint, e.g. two sites' items with one
    id) surfaces as :class:`ProjectionRefusedError`, so the hub can still keep the copy.
    """

    def __init__(self, store: SqlStore, admin: LogAdmin, rebuilder: Rebuilder) -> None:
        self.store = store
        self.admin = admin
        self.rebuilder = rebuilder
        self._caught_up = False
        dbapi = store.engine.dialect.loaded_dbapi
        self._refusals: tuple[type[BaseException], ...] = (
            sa_exc.IntegrityError,
            getattr(dbapi, "IntegrityError", sa_exc.IntegrityError),
        )

    def head(self, site: str) -> tuple[int, bytes]:
        return self.store.head(site)

    def read_events(
        self, site: str, after_seq: int = 0, until_seq: int | None = None, batch: int = 5000
    ) -> Iterator[StoredEvent]:
        return self.store.read_events(site, after_seq, until_seq, batch)

    def checkpoints(self, site: str) -> list[Checkpoint]:
        return self.store.checkpoints(site)

    def save_checkpoint(self, cp: Checkpoint) -> None:
        self.admin.save_checkpoint(cp)

    def waiting(self) -> list[Wait]:
        """The logs whose projection waits on a version they saw (``log_waits``)."""
        with self.store.engine.connect() as conn:
            return read_waits(conn)

    def import_events(
        self, site: str, events: Sequence[StoredEvent], project: bool = True
    ) -> Imported:
        """Store (and project) the events, then journal their arrival.

        The journal row is written just after the events' own transaction (the store owns
        that one); runs stored but not journalled (the hub died in between) are journalled
        before the first arrival after a restart, so the journal keeps the live order.
        """
        if not self._caught_up:
            self._journal_unjournalled()
            self._caught_up = True
        try:
            done = self.admin.import_run(site, events, project, verified=True)
        except self._refusals as exc:
            if not project:
                raise
            raise ProjectionRefusedError(type(exc).__name__) from None
        if done.stored:
            try:
                self._journal(site, events[0].seq, events[-1].seq)
            except BaseException:
                self._caught_up = False  # journalled before the next arrival instead
                raise
        return done

    def _journal(self, site: str, first: int, last: int) -> None:
        with self.store.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            with conn.begin():
                conn.execute(
                    hub_arrivals.insert().values(site=site, first_seq=first, last_seq=last)
                )

    def _journal_unjournalled(self) -> None:
        """Journal the tail of every journalled site that its copy holds beyond the journal.

        A site without any journal row holds history from before the journal: ``rebuild``
        replays that first, merged by recorded time.
        """
        t = hub_arrivals
        with self.store.engine.connect() as conn:
            covered = dict(
                conn.execute(select(t.c.site, func.max(t.c.last_seq)).group_by(t.c.site)).all()
            )
        for site in sorted(covered):
            head, _ = self.store.head(site)
            if head > covered[site]:
                self._journal(site, covered[site] + 1, head)

    def rebuild(self, progress: Progress | None = None, batch: int = 5000) -> int:
        """Empty every projection and replay the copies in the order they arrived.

        First each site's history from before the journal (merged by recorded time, as
        :meth:`SqlRebuilder.rebuild` does), then the journal's runs in order. As on a site,
        the hub's own log (whose key it holds) must first end exactly at its authenticated
        head and reach its anchor, else IntegrityError and nothing changes; the sites'
        copies were checked by their signatures as they arrived.
        """
        for site in self.store.sites():
            self.rebuilder.authenticate(site)  # a no-op for the sites' copies (no key here)
        self._journal_unjournalled()
        t = hub_arrivals
        with self.store.engine.connect() as conn:
            runs = conn.execute(select(t.c.site, t.c.first_seq, t.c.last_seq).order_by(t.c.n)).all()
        heads = {site: self.store.head(site)[0] for site in self.store.sites()}
        journalled: dict[str, int] = {}
        for site, first, _ in runs:
            journalled.setdefault(site, first)
        legacy = [
            ((e.recorded_at, e.site, e.seq, e) for e in self.store.read_events(
                site, 0, min(head, journalled.get(site, head + 1) - 1)))
            for site, head in heads.items()
        ]  # fmt: skip
        applied = {
            site: min(head, journalled.get(site, head + 1) - 1) for site, head in heads.items()
        }

        def journal() -> Iterator[StoredEvent]:
            # Each run from where its site stands, so a run missing from the journal is
            # replayed with the next one, and anything after the last run comes at the end.
            for site, _, last in runs:
                start, end = applied.get(site, 0), min(last, heads.get(site, 0))
                if end > start:
                    yield from self.store.read_events(site, start, end)
                    applied[site] = end
            for site, head in heads.items():
                if head > applied[site]:
                    yield from self.store.read_events(site, applied[site], head)

        merged = (x[3] for x in heapq.merge(*legacy, key=lambda x: (x[0], x[1], x[2])))
        return self.rebuilder.replay(itertools.chain(merged, journal()), progress, batch)
