"""Items accepted per site and hour, counted from the tracking events every node projects."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select

from postex.eventlog.sql.schema import tracking_events
from postex.eventlog.sql.store import SqlStore
from postex.network.app.health import ACCEPTANCE


class SqlAcceptanceCounts:
    """:class:`postex.network.app.health.AcceptanceCounts` on the node's own store."""

    def __init__(self, store: SqlStore) -> None:
        self.engine = store.engine

    def accepted_per_hour(self, since: str) -> Mapping[tuple[str, str], int]:
        t = tracking_events
        hour = func.substr(t.c.occurred_utc, 1, 13)
        q = (
            select(t.c.site, hour, func.count())
            .where(t.c.code == ACCEPTANCE, t.c.occurred_utc >= since)
            .group_by(t.c.site, hour)
        )
        with self.engine.connect() as conn:
            return {(str(s), str(h)): int(n) for s, h, n in conn.execute(q)}
