"""Replication bookkeeping on SQL: cursors, site reports, witnesses, alarms, key copies.

None of these tables is a projection: they record what the transport and the hub did,
not what the log says, so ``postex rebuild`` leaves them alone. A site's acknowledged
seq lives in its own store; the hub keeps reports, witnesses, alarms and the sites'
wrapped data keys (useless without the sites' key-encryption key).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
)
from sqlalchemy import exc as sa_exc

from postex.eventlog.events import Checkpoint, StoredEvent
from postex.eventlog.ports import LogAdmin, Progress, Rebuilder
from postex.eventlog.sql import schema
from postex.eventlog.sql.schema import metadata
from postex.eventlog.sql.store import SqlStore
from postex.items.sql.serials import id_bounds
from postex.kernel.errors import ConfigurationError
from postex.network.app.node_role import RecordedRole
from postex.network.app.replication import (
    Alarm,
    DataKey,
    ProjectionRefusedError,
    SiteReportedHead,
    VerificationRecord,
    Witness,
)

replication_cursors = Table(
    "replication_cursors",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("acked_seq", BigInteger, nullable=False),
    Column("acked_at", String(32), nullable=False),
)

replication_reports = Table(
    "replication_reports",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("head_seq", BigInteger, nullable=False),
    Column("acked_seq", BigInteger, nullable=False),
    Column("reported_at", String(32), nullable=False),
)

witnesses = Table(
    "witnesses",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("witnessed_at", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
)

integrity_alarms = Table(
    "integrity_alarms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(16), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("raised_at", String(32), nullable=False),
    Column("cleared_at", String(32)),
    Column("cleared_reason", Text),
)

hub_data_keys = Table(
    "hub_data_keys",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("customer_id", String(40), primary_key=True),
    Column("kek_id", String(64), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", String(32), nullable=False),
)

verifications = Table(
    "verifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("events_checked", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),
)

# The hub's arrival journal: one row per run of events stored, in the order they were
# stored (and so projected). ``postex rebuild`` on a hub replays in this order, so it gives
# the live tables even where sites' events meet in one projection (a partner scan at one
# site of an item issued at another).
hub_arrivals = Table(
    "hub_arrivals",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("site", String(16), nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
)

# The node's role, recorded when the database is initialised or first started (one row).
node_role = Table(
    "node_role",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("role", String(8), nullable=False),
    Column("site", String(16), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("previous_role", String(8)),
)

TABLES = (
    replication_cursors,
    replication_reports,
    witnesses,
    integrity_alarms,
    hub_data_keys,
    verifications,
    hub_arrivals,
    node_role,
)


class SqlReplicationState:
    """:class:`postex.network.app.replication.ReplicationState` on the node's own store."""

    def __init__(self, store: SqlStore) -> None:
        self.engine = store.engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite: no lock upgrade to fail)."""
        with self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            with conn.begin():
                yield conn

    def acked(self, site: str) -> int:
        t = replication_cursors
        with self.engine.connect() as conn:
            v = conn.execute(select(t.c.acked_seq).where(t.c.site == site)).scalar()
        return int(v or 0)

    def set_acked(self, site: str, seq: int, at: str) -> None:
        t = replication_cursors
        with self._write() as conn:
            done = conn.execute(
                t.update().where(t.c.site == site).values(acked_seq=seq, acked_at=at)
            )
            if done.rowcount == 0:
                conn.execute(t.insert().values(site=site, acked_seq=seq, acked_at=at))

    def raise_alarm(self, site: str, seq: int, kind: str, detail: str, at: str) -> bool:
        t = integrity_alarms
        with self._write() as conn:
            same = conn.execute(
                select(t.c.id).where(
                    t.c.site == site,
                    t.c.seq == seq,
                    t.c.kind == kind,
                    t.c.detail == detail,
                    t.c.cleared_at.is_(None),
                )
            ).first()
            if same is not None:
                return False
            conn.execute(
                t.insert().values(site=site, seq=seq, kind=kind, detail=detail, raised_at=at)
            )
        return True

    def alarms(self) -> list[Alarm]:
        t = integrity_alarms
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.cleared_at.is_(None)).order_by(t.c.id)).all()
        return [Alarm(r.id, r.site, r.seq, r.kind, r.detail, r.raised_at) for r in rows]

    def clear_alarm(self, alarm_id: int, reason: str, at: str) -> Alarm | None:
        t = integrity_alarms
        with self._write() as conn:
            r = conn.execute(select(t).where(t.c.id == alarm_id, t.c.cleared_at.is_(None))).first()
            if r is None:
                return None
            conn.execute(
                t.update().where(t.c.id == alarm_id).values(cleared_at=at, cleared_reason=reason)
            )
        return Alarm(r.id, r.site, r.seq, r.kind, r.detail, r.raised_at)

    def record_report(self, report: SiteReportedHead) -> None:
        t = replication_reports
        values = {
            "head_seq": report.head_seq,
            "acked_seq": report.acked_seq,
            "reported_at": report.reported_at,
        }
        with self._write() as conn:
            done = conn.execute(t.update().where(t.c.site == report.site).values(**values))
            if done.rowcount == 0:
                conn.execute(t.insert().values(site=report.site, **values))

    def reports(self) -> dict[str, SiteReportedHead]:
        t = replication_reports
        with self.engine.connect() as conn:
            rows = conn.execute(select(t)).all()
        return {
            r.site: SiteReportedHead(r.site, r.head_seq, r.acked_seq, r.reported_at) for r in rows
        }

    def save_witness(self, w: Witness) -> None:
        t = witnesses
        with self._write() as conn:
            held = conn.execute(select(t.c.seq).where(t.c.site == w.site, t.c.seq == w.seq)).first()
            if held is None:
                conn.execute(
                    t.insert().values(
                        site=w.site, seq=w.seq, witnessed_at=w.witnessed_at, key_id=w.key_id,
                        signature=w.signature,
                    )
                )  # fmt: skip

    def witnesses(self, site: str) -> list[Witness]:
        t = witnesses
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.site == site).order_by(t.c.seq)).all()
        return [Witness(r.site, r.seq, r.witnessed_at, r.key_id, bytes(r.signature)) for r in rows]

    def save_data_keys(self, site: str, keys: Sequence[DataKey]) -> None:
        t = hub_data_keys
        with self._write() as conn:
            conn.execute(t.delete().where(t.c.site == site))
            if keys:
                conn.execute(
                    t.insert(),
                    [
                        {
                            "site": site,
                            "customer_id": c,
                            "kek_id": k,
                            "wrapped": w,
                            "created_at": at,
                        }
                        for c, k, w, at in keys
                    ],
                )

    def data_keys(self, site: str) -> list[DataKey]:
        t = hub_data_keys
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.customer_id, t.c.kek_id, t.c.wrapped, t.c.created_at)
                .where(t.c.site == site)
                .order_by(t.c.customer_id)
            ).all()
        return [(r[0], r[1], bytes(r[2]), r[3]) for r in rows]

    def record_verification(self, v: VerificationRecord) -> None:
        with self._write() as conn:
            conn.execute(
                verifications.insert().values(
                    at=v.at, ok=v.ok, events_checked=v.events_checked, detail=v.detail
                )
            )

    def last_verification(self) -> VerificationRecord | None:
        t = verifications
        with self.engine.connect() as conn:
            r = conn.execute(select(t).order_by(t.c.id.desc()).limit(1)).first()
        return VerificationRecord(r.at, bool(r.ok), r.events_checked, r.detail) if r else None


class HubCopy:
    """:class:`postex.network.app.replication.HubStore` on the hub's SQL store.

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

    def import_events(self, site: str, events: Sequence[StoredEvent], project: bool = True) -> int:
        """Store (and project) the events, then journal their arrival.

        The journal row is written just after the events' own transaction (the store owns
        that one); runs stored but not journalled (the hub died in between) are journalled
        before the first arrival after a restart, so the journal keeps the live order.
        """
        if not self._caught_up:
            self._journal_unjournalled()
            self._caught_up = True
        try:
            n = self.admin.import_events(site, events, project)
        except self._refusals as exc:
            if not project:
                raise
            raise ProjectionRefusedError(type(exc).__name__) from None
        if n:
            try:
                self._journal(site, events[0].seq, events[-1].seq)
            except BaseException:
                self._caught_up = False  # journalled before the next arrival instead
                raise
        return n

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
        :meth:`SqlRebuilder.rebuild` does), then the journal's runs in order.
        """
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


class SqlNodeRoles:
    """:class:`postex.network.app.node_role.NodeRoles`: the one row of ``node_role``."""

    def __init__(self, store: SqlStore) -> None:
        self.engine = store.engine

    def _require_table(self) -> None:
        if not inspect(self.engine).has_table("node_role"):
            raise ConfigurationError(
                "this database's schema predates the recorded node role (migration 0014): "
                "run `postex init` with the same --db/--home to upgrade it, then start again"
            )

    def recorded(self) -> RecordedRole | None:
        self._require_table()
        t = node_role
        with self.engine.connect() as conn:
            r = conn.execute(select(t).where(t.c.id == 1)).first()
        return RecordedRole(r.role, r.site, r.recorded_at, r.previous_role) if r else None

    def evidence(self) -> str | None:
        with self.engine.connect() as conn:
            for table in (hub_arrivals, witnesses):
                if conn.execute(select(table).limit(1)).first() is not None:
                    return "hub"
            if conn.execute(select(replication_cursors).limit(1)).first() is not None:
                return "site"
        return None

    def record(self, role: RecordedRole) -> None:
        t = node_role
        values = {
            "role": role.role,
            "site": role.site,
            "recorded_at": role.recorded_at,
            "previous_role": role.previous_role,
        }
        with self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            with conn.begin():
                done = conn.execute(t.update().where(t.c.id == 1).values(**values))
                if done.rowcount == 0:
                    conn.execute(t.insert().values(id=1, **values))


class SqlIssuedSerials:
    """:class:`postex.network.app.node_role.IssuedSerials`: item ids outside a part of a block.

    Ids of one prefix sort by serial (fixed width), so each side is one index range scan.
    """

    def __init__(self, store: SqlStore) -> None:
        self.engine = store.engine

    def outside(self, prefix: str, first: int, last: int) -> tuple[int, int, int] | None:
        t = schema.items
        low, high = id_bounds(prefix, first, last)
        floor, ceiling = id_bounds(prefix, 0, 99999999)
        count, lowest, highest = 0, None, None
        with self.engine.connect() as conn:
            for where in ((t.c.id >= floor, t.c.id < low), (t.c.id > high, t.c.id <= ceiling)):
                n, lo, hi = conn.execute(
                    select(func.count(), func.min(t.c.id), func.max(t.c.id)).where(*where)
                ).one()
                if n:
                    count += n
                    lowest = lo if lowest is None else lowest
                    highest = hi
        if not count or lowest is None or highest is None:
            return None
        return count, int(str(lowest)[2:10]), int(str(highest)[2:10])
