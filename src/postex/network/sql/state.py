"""The node's replication state (:class:`ReplicationState`) on its own SQL store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, select

from postex.eventlog.sql.store import SqlStore
from postex.network.app.hub import Alarm, SiteReportedHead, VerificationRecord
from postex.network.app.wire import DataKey
from postex.network.app.witness import Witness
from postex.network.sql.tables import (
    hub_data_keys,
    integrity_alarms,
    replication_cursors,
    replication_reports,
    verifications,
    witnesses,
)


class SqlReplicationState:
    """:class:`postex.network.app.hub.ReplicationState` on the node's own store."""

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

    def upsert_alarm(self, site: str, kind: str, detail: str, at: str) -> int:
        t = integrity_alarms
        with self._write() as conn:
            open_id = conn.execute(
                select(t.c.id).where(
                    t.c.site == site, t.c.seq == 0, t.c.kind == kind, t.c.cleared_at.is_(None)
                )
            ).scalar()
            if open_id is not None:
                conn.execute(t.update().where(t.c.id == open_id).values(detail=detail))
                return int(open_id)
            done = conn.execute(
                t.insert().values(site=site, seq=0, kind=kind, detail=detail, raised_at=at)
            )
            key = done.inserted_primary_key
            assert key is not None  # an insert into a table with an id
            return int(key[0])

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
