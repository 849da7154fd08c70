"""S10 serials of a site of a network: the highest one issued inside the site's sub-block.

A single node keeps reading its per-prefix high-water mark (``serials``, see core.py). A
site of a network issues only from its own part of each block, so it looks for the highest
item id inside that part: the items table is keyed by id, and ids of one prefix sort by
serial (fixed width), so this is one index seek.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from postex.eventlog.sql import schema


def id_bounds(prefix: str, first: int, last: int) -> tuple[str, str]:
    """``low <= id <= high`` for item ids with serials ``first…last`` of ``prefix``.

    An id is prefix, 8 digits, a check digit and a country; the bounds are letters and
    digits only, so they hold in any collation that orders digits before letters and a
    prefix before its extensions (C, ICU and glibc locales alike).
    """
    return f"{prefix}{first:08d}", f"{prefix}{last:08d}9ZZ"


class SqlSerialRanges:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def last_serial_between(self, prefix: str, first: int, last: int) -> int | None:
        t = schema.items
        low, high = id_bounds(prefix, first, last)
        found = self.conn.execute(
            select(func.max(t.c.id)).where(t.c.id >= low, t.c.id <= high)
        ).scalar()
        if found is None:
            return None
        serial = int(str(found)[2:10])
        return serial if first <= serial <= last else None
