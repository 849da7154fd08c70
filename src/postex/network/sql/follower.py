"""A follower's SQL side: the verified copies of other nodes' logs and their data keys."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select

from postex.accounts.sql.customers import reopen_names
from postex.eventlog.events import StoredEvent
from postex.eventlog.saw import Imported
from postex.eventlog.sql import schema
from postex.eventlog.sql.store import SqlStore
from postex.network.app.hub import ProjectionRefusedError
from postex.network.app.wire import DataKey
from postex.network.sql.hub import HubCopy


class FollowedLogs(HubCopy):
    """Other nodes' logs in this node's store (:class:`HubStore`), stored and projected in
    one transaction. Unlike the hub's copy it keeps no arrival journal: a site's
    ``postex rebuild`` merges logs by recorded time (docs/log-format.md)."""

    def import_events(
        self, site: str, events: Sequence[StoredEvent], project: bool = True
    ) -> Imported:
        try:
            return self.admin.import_run(site, events, project, verified=True)
        except self._refusals as exc:
            if not project:
                raise
            raise ProjectionRefusedError(type(exc).__name__) from None


class SqlKeyShelf:
    """:class:`postex.network.app.follower.KeyShelf` on the node's ``data_keys`` table.

    ``opens(kek_id)`` says whether this node holds that KEK: a key wrapped under a KEK this
    node does not hold is not taken (it could never be opened here; the node then sees the
    customer's personal data as unavailable, exactly as after an erasure).
    """

    def __init__(self, store: SqlStore, opens: Callable[[str], bool], now: Callable[[], str]):
        self.engine = store.engine
        self.opens = opens
        self.now = now
        self.skipped = 0  # keys seen that this node cannot open (KEK not shared)

    def take(self, origin: str, keys: Sequence[DataKey]) -> int:
        t, c = schema.data_keys, schema.customers
        usable = [k for k in keys if self.opens(k[1])]
        self.skipped += len(keys) - len(usable)
        if not usable:
            return 0
        with self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            with conn.begin():
                have = {r[0] for r in conn.execute(select(t.c.customer_id))}
                erased = {
                    r[0] for r in conn.execute(select(c.c.id).where(c.c.erased_at.is_not(None)))
                }
                rows = [
                    {"customer_id": cid, "kek_id": kid, "wrapped": w, "created_at": at}
                    for cid, kid, w, at in usable
                    if cid not in have and cid not in erased
                ]
                if rows:
                    conn.execute(t.insert(), rows)
                    reopen_names(conn, [str(r["customer_id"]) for r in rows])
        return len(rows)

    def forget(self, customer_ids: Sequence[str]) -> int:
        t = schema.data_keys
        with self.engine.connect() as raw:
            conn = raw.execution_options(postex_write=True)
            with conn.begin():
                done = conn.execute(t.delete().where(t.c.customer_id.in_(list(customer_ids))))
        return int(done.rowcount or 0)
