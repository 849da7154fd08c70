"""A node's recorded role and the item ids it has issued, on its SQL store."""

from __future__ import annotations

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import DatabaseError, OperationalError

from postex.eventlog.sql import schema
from postex.eventlog.sql.store import SqlStore
from postex.items.sql.serials import id_bounds
from postex.kernel.errors import ConfigurationError
from postex.network.app.node_role import RecordedRole
from postex.network.sql.tables import hub_arrivals, node_role, replication_cursors, witnesses


class SqlNodeRoles:
    """:class:`postex.network.app.node_role.NodeRoles`: the one row of ``node_role``."""

    def __init__(self, store: SqlStore) -> None:
        self.engine = store.engine

    def has_table(self) -> bool:
        """Whether the schema has the record (False too for a file that is no database:
        the command goes on and finds it so, as an integrity failure)."""
        try:
            return inspect(self.engine).has_table("node_role")
        except OperationalError:
            raise
        except DatabaseError:
            return False

    def _require_table(self) -> None:
        if not self.has_table():
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

    def __init__(self, store: SqlStore, issued_by: str | None = None) -> None:
        """``issued_by``: only the items pre-advised in that node's log (a site's database
        also holds the items other nodes issued, by fan-out); None: every item."""
        self.engine = store.engine
        self.issued_by = issued_by

    def outside(self, prefix: str, first: int, last: int) -> tuple[int, int, int] | None:
        t = schema.items
        low, high = id_bounds(prefix, first, last)
        floor, ceiling = id_bounds(prefix, 0, 99999999)
        count, lowest, highest = 0, None, None
        own = () if self.issued_by is None else (t.c.origin_site == self.issued_by,)
        with self.engine.connect() as conn:
            for where in ((t.c.id >= floor, t.c.id < low), (t.c.id > high, t.c.id <= ceiling)):
                n, lo, hi = conn.execute(
                    select(func.count(), func.min(t.c.id), func.max(t.c.id)).where(*where, *own)
                ).one()
                if n:
                    count += n
                    lowest = lo if lowest is None else lowest
                    highest = hi
        if not count or lowest is None or highest is None:
            return None
        return count, int(str(lowest)[2:10]), int(str(highest)[2:10])
