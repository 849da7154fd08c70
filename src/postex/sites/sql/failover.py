"""Failover projections and their repository: requests, failovers in force, moved items and
abandoned receptacles.

Every handler applies only what its event says: the items and receptacles that move are
listed in the events by the confirming node, so every node (and ``postex rebuild``) gets the
same rows whatever order the logs arrive in. The site projection (``projections.py``) asks
:func:`moved_from` so that events of a lost site's log about a moved item, applied after the
listing, change nothing of the item (docs/log-format.md, "Rules across logs").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, Index, Integer, String, Table, Text, select

from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.fast import executemany, fetchall
from postex.eventlog.sql.projections import projection
from postex.eventlog.sql.schema import metadata
from postex.items.sql.core import TRACKING_INSERT, set_state, tracking_row
from postex.items.sql.versions import INEFFECTIVE
from postex.sites.app.failover import AbandonedReceptacle, FailoverRecord, MovableItem
from postex.sites.events import (
    FailbackConfirmed,
    FailbackRequested,
    FailoverConfirmed,
    FailoverItemsMoved,
    FailoverReceptaclesAbandoned,
    FailoverRequested,
)

site_failovers = Table(
    "site_failovers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(10), nullable=False),  # failover | failback
    Column("from_site", String(16), nullable=False),  # the lost site (failback: the site)
    Column("to_site", String(16)),  # the survivor (failback: set when confirmed)
    Column("reason", Text, nullable=False),
    Column("requested_by", Text, nullable=False),  # JSON actor record
    Column("requested_at", String(32), nullable=False),
    Column("origin_site", String(16), nullable=False),  # the log that holds the request
    Column("confirmed_by", Text),  # JSON actor record
    Column("confirmed_at", String(32)),
    Column("ended_at", String(32)),  # a failover a failback ended
    Column("item_count", Integer, nullable=False),
    Column("receptacle_count", Integer, nullable=False),
    Index("ix_site_failovers_requested", "requested_at"),
)
active_failovers = Table(
    "active_failovers",
    metadata,
    Column("from_site", String(16), primary_key=True),
    Column("to_site", String(16), nullable=False),
    Column("failover_id", String(40), nullable=False),
    Column("since", String(32), nullable=False),
)
failover_moves = Table(
    "failover_moves",
    metadata,
    Column("failover_id", String(40), primary_key=True),
    Column("item_id", String(13), primary_key=True),
    Column("from_site", String(16), nullable=False),
    Column("to_site", String(16), nullable=False),
    Column("state", String(16), nullable=False),  # the item's state after the move
    Column("moved_at", String(32), nullable=False),
    Index("ix_failover_moves_item", "item_id", "from_site"),
)
abandoned_receptacles = Table(
    "abandoned_receptacles",
    metadata,
    Column("receptacle_id", String(40), primary_key=True),
    Column("site", String(16), nullable=False),
    Column("failover_id", String(40), nullable=False),
    Column("reason", Text, nullable=False),
    Column("abandoned_at", String(32), nullable=False),
)

failover_p = projection(
    "failovers", site_failovers, active_failovers, failover_moves, abandoned_receptacles
)


def _actor(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


def marks(n: int) -> str:
    return ", ".join(["?"] * n)


def moved_from(conn: Connection, log_site: str, item_ids: Sequence[str]) -> set[str]:
    """Which of ``item_ids`` a failover moved away from ``log_site`` (whose log's later
    events about them change nothing)."""
    ids = sorted(set(item_ids))
    found: set[str] = set()
    for n in range(0, len(ids), 500):
        part = ids[n : n + 500]
        found.update(
            str(r[0])
            for r in fetchall(
                conn,
                f"SELECT item_id FROM failover_moves WHERE from_site = ?"
                f" AND item_id IN ({marks(len(part))})",
                [log_site, *part],
            )
        )
    return found


def abandoned(conn: Connection, receptacle_ids: Sequence[str]) -> set[str]:
    """Which of ``receptacle_ids`` a failover abandoned."""
    ids = sorted(set(receptacle_ids))
    if not ids:
        return set()
    rows = fetchall(
        conn,
        f"SELECT receptacle_id FROM abandoned_receptacles WHERE receptacle_id IN"
        f" ({marks(len(ids))})",
        ids,
    )
    return {str(r[0]) for r in rows}


@failover_p.on(FailoverRequested)
def _requested(conn: Connection, events: Sequence[StoredEvent[FailoverRequested]]) -> None:
    executemany(
        conn,
        "INSERT INTO site_failovers (id, kind, from_site, to_site, reason, requested_by,"
        " requested_at, origin_site, item_count, receptacle_count)"
        " VALUES (?, 'failover', ?, ?, ?, ?, ?, ?, 0, 0)",
        [(d.request_id, d.from_site, d.to_site, d.reason, _actor(d.requested_by),
          e.recorded_at, e.site) for e in events for d in (e.event,)],
    )  # fmt: skip


@failover_p.on(FailbackRequested)
def _failback_requested(conn: Connection, events: Sequence[StoredEvent[FailbackRequested]]) -> None:
    executemany(
        conn,
        "INSERT INTO site_failovers (id, kind, from_site, to_site, reason, requested_by,"
        " requested_at, origin_site, item_count, receptacle_count)"
        " VALUES (?, 'failback', ?, NULL, ?, ?, ?, ?, 0, 0)",
        [(d.request_id, d.site, d.reason, _actor(d.requested_by), e.recorded_at, e.site)
         for e in events for d in (e.event,)],
    )  # fmt: skip


@failover_p.on(FailoverConfirmed)
def _confirmed(conn: Connection, events: Sequence[StoredEvent[FailoverConfirmed]]) -> None:
    for e in events:
        d = e.event
        executemany(
            conn,
            "UPDATE site_failovers SET confirmed_by = ?, confirmed_at = ?, item_count = ?,"
            " receptacle_count = ? WHERE id = ?",
            [(_actor(d.confirmed_by), e.recorded_at, d.item_count, d.receptacle_count,
              d.request_id)],
        )  # fmt: skip
        _settle(conn, d.from_site)


def _settle(conn: Connection, site: str) -> None:
    """The failover of ``site`` in force: the confirmed one no failback ended, the first
    confirmed if two nodes confirmed one each concurrently (recorded time, then id). Derived
    from ``site_failovers`` alone, so every arrival order gives the same row."""
    rows = fetchall(
        conn,
        "SELECT id, to_site, confirmed_at FROM site_failovers WHERE kind = 'failover'"
        " AND from_site = ? AND confirmed_at IS NOT NULL AND ended_at IS NULL"
        " ORDER BY confirmed_at, id",
        [site],
    )
    executemany(conn, "DELETE FROM active_failovers WHERE from_site = ?", [(site,)])
    executemany(
        conn,
        "INSERT INTO active_failovers (from_site, to_site, failover_id, since) VALUES (?, ?, ?, ?)",
        [(site, str(r[1]), str(r[0]), str(r[2])) for r in rows[:1]],
    )


@failover_p.on(FailoverItemsMoved)
def _moved(conn: Connection, events: Sequence[StoredEvent[FailoverItemsMoved]]) -> None:
    """Each listed item is handled by the survivor: out of any receptacle (whose counts drop,
    so both arrival orders give the same receptacle rows) and not in transfer."""
    for e in events:
        d = e.event
        # Two failovers of one site confirmed concurrently at two nodes both list its items:
        # the first confirmed (recorded time, then id) decides where each item goes, in
        # either arrival order (both moves are remembered, both EMK rows recorded).
        first = _moved_first(conn, d.from_site, [str(x[0]) for x in d.items], e.recorded_at,
                             d.request_id)  # fmt: skip
        listed = [x for x in d.items if str(x[0]) not in first]
        ids = [str(x[0]) for x in listed]
        _remember(conn, e, d)
        if not ids:
            continue
        rows = {
            str(r[0]): (r[1], int(r[2]))
            for part in (ids[n : n + 500] for n in range(0, len(ids), 500))
            for r in fetchall(
                conn,
                "SELECT item_id, receptacle_id, measured_g FROM item_handling"
                f" WHERE item_id IN ({marks(len(part))})",
                part,
            )
        }
        executemany(
            conn,
            "UPDATE receptacles SET item_count = item_count - 1, content_g = content_g - ?"
            " WHERE id = ?",
            [(g, rid) for rid, g in rows.values() if rid is not None],
        )
        executemany(
            conn,
            "UPDATE item_handling SET site = ?, receptacle_id = NULL, despatch_id = NULL,"
            " transfer_to = NULL, carrier_status = NULL WHERE item_id = ?",
            [(d.to_site, i) for i in ids if i in rows],
        )
        # A node that has not applied the acceptance yet learns the item's handling here.
        executemany(
            conn,
            "INSERT INTO item_handling (item_id, site, accepted_at, measured_g)"
            " VALUES (?, ?, ?, ?)",
            [(str(x[0]), d.to_site, str(x[3]), int(x[2])) for x in listed if x[0] not in rows],
        )
        set_state(
            conn,
            [(str(x[1]), "accepted" if x[1] == "held" else None, e.recorded_at, str(x[0]))
             for x in listed],
        )  # fmt: skip


def _moved_first(
    conn: Connection, from_site: str, ids: Sequence[str], at: str, failover_id: str
) -> set[str]:
    """Items another failover of ``from_site`` confirmed before this one moved already."""
    found: set[str] = set()
    for n in range(0, len(ids), 500):
        part = list(ids[n : n + 500])
        found.update(
            str(r[0])
            for r in fetchall(
                conn,
                "SELECT item_id, moved_at, failover_id FROM failover_moves WHERE from_site = ?"
                f" AND item_id IN ({marks(len(part))})",
                [from_site, *part],
            )
            if (str(r[1]), str(r[2])) < (at, failover_id)
        )
    return found


def _remember(conn: Connection, e: StoredEvent[FailoverItemsMoved], d: FailoverItemsMoved) -> None:
    """Every listed item's move, and its EMK tracking row at the survivor (history)."""
    executemany(
        conn,
        "INSERT INTO failover_moves (failover_id, item_id, from_site, to_site, state,"
        " moved_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(d.request_id, str(x[0]), d.from_site, d.to_site, str(x[1]), e.recorded_at)
         for x in d.items],
    )  # fmt: skip
    ids = [str(x[0]) for x in d.items]
    executemany(conn, TRACKING_INSERT, [tracking_row(e, i, "EMK", d.to_site) for i in ids])


@failover_p.on(FailoverReceptaclesAbandoned)
def _abandoned(
    conn: Connection, events: Sequence[StoredEvent[FailoverReceptaclesAbandoned]]
) -> None:
    for e in events:
        d = e.event
        executemany(
            conn,
            "INSERT INTO abandoned_receptacles (receptacle_id, site, failover_id, reason,"
            " abandoned_at) VALUES (?, ?, ?, ?, ?)",
            [(r, d.site, d.request_id, d.reason, e.recorded_at) for r in d.receptacle_ids],
        )
        executemany(
            conn,
            "UPDATE receptacles SET state = 'abandoned' WHERE id = ?",
            [(r,) for r in d.receptacle_ids],
        )


@failover_p.on(FailbackConfirmed)
def _failback(conn: Connection, events: Sequence[StoredEvent[FailbackConfirmed]]) -> None:
    for e in events:
        d = e.event
        executemany(
            conn,
            "UPDATE site_failovers SET confirmed_by = ?, confirmed_at = ?, to_site = ?"
            " WHERE id = ?",
            [
                (
                    _actor(d.confirmed_by),
                    e.recorded_at,
                    d.from_survivor,
                    d.request_id,
                )
            ],
        )
        executemany(
            conn,
            "UPDATE site_failovers SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
            [(e.recorded_at, d.failover_id)],
        )
        _settle(conn, d.site)


# --- the repository --------------------------------------------------------------------
def _record(r: Any) -> FailoverRecord:
    return FailoverRecord(
        id=r.id, kind=r.kind, from_site=r.from_site, to_site=r.to_site, reason=r.reason,
        requested_by=json.loads(r.requested_by), requested_at=r.requested_at,
        origin_site=r.origin_site,
        confirmed_by=json.loads(r.confirmed_by) if r.confirmed_by else None,
        confirmed_at=r.confirmed_at, ended_at=r.ended_at, item_count=r.item_count,
        receptacle_count=r.receptacle_count,
    )  # fmt: skip


class SqlFailovers:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def active(self) -> dict[str, str]:
        rows = self.conn.execute(select(active_failovers.c.from_site, active_failovers.c.to_site))
        return {str(a): str(b) for a, b in rows}

    def active_ids(self) -> dict[str, str]:
        rows = self.conn.execute(
            select(active_failovers.c.from_site, active_failovers.c.failover_id)
        )
        return {str(a): str(b) for a, b in rows}

    def get(self, request_id: str) -> FailoverRecord | None:
        row = self.conn.execute(
            select(site_failovers).where(site_failovers.c.id == request_id)
        ).first()
        return _record(row) if row is not None else None

    def all(self) -> list[FailoverRecord]:
        q = select(site_failovers).order_by(
            site_failovers.c.requested_at.desc(), site_failovers.c.id
        )
        return [_record(r) for r in self.conn.execute(q)]

    def movable_items(self, site: str) -> list[MovableItem]:
        """Items at ``site`` accepted but not despatched (in a bag or not, held or not), not
        travelling to another site, oldest accepted first."""
        rows = fetchall(
            self.conn,
            "SELECT h.item_id, i.state, h.measured_g, h.accepted_at FROM item_handling h"
            " JOIN items i ON i.id = h.item_id WHERE h.site = ? AND h.transfer_to IS NULL"
            " AND (i.state IN ('accepted', 'in_receptacle') OR (i.state = 'held'"
            " AND i.held_from IN ('accepted', 'in_receptacle')))"
            " ORDER BY h.accepted_at, h.item_id",
            [site],
        )
        return [MovableItem(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in rows]

    def open_receptacles(self, site: str) -> list[str]:
        """Receptacles of ``site`` not despatched: open, closed, or in a despatch not closed."""
        rows = fetchall(
            self.conn,
            "SELECT r.id FROM receptacles r LEFT JOIN despatches d ON d.id = r.despatch_id"
            " WHERE r.site = ? AND (r.state IN ('open', 'closed')"
            " OR (r.state = 'in_despatch' AND d.state = 'open')) ORDER BY r.opened_at, r.id",
            [site],
        )
        return [str(r[0]) for r in rows]

    def abandonment(self, receptacle_id: str) -> tuple[str, str] | None:
        """(failover id, reason) when ``receptacle_id`` was abandoned."""
        rows = fetchall(
            self.conn,
            "SELECT failover_id, reason FROM abandoned_receptacles WHERE receptacle_id = ?",
            [receptacle_id],
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def abandoned(self, limit: int) -> list[AbandonedReceptacle]:
        q = (
            select(abandoned_receptacles)
            .order_by(abandoned_receptacles.c.abandoned_at.desc(),
                      abandoned_receptacles.c.receptacle_id)
            .limit(limit)
        )  # fmt: skip
        return [
            AbandonedReceptacle(r.receptacle_id, r.site, r.failover_id, r.reason, r.abandoned_at)
            for r in self.conn.execute(q)
        ]

    def moved(self, item_id: str) -> tuple[str, str] | None:
        """(from_site, to_site) of the latest failover that moved ``item_id``."""
        rows = fetchall(
            self.conn,
            "SELECT from_site, to_site FROM failover_moves WHERE item_id = ?"
            " ORDER BY moved_at DESC",
            [item_id],
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None


def moved_pairs(conn: Connection, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (log, item) pairs name an item a failover moved away from that log: the
    site projection leaves such an item unchanged (its tracking row is still recorded)."""
    if not pairs or not fetchall(conn, "SELECT 1 FROM failover_moves LIMIT 1"):
        return set()
    ids = sorted({i for _, i in pairs})
    moved: set[tuple[str, str]] = set()
    for n in range(0, len(ids), 500):
        part = ids[n : n + 500]
        moved.update(
            (str(r[0]), str(r[1]))
            for r in fetchall(
                conn,
                f"SELECT from_site, item_id FROM failover_moves WHERE item_id IN"
                f" ({marks(len(part))})",
                part,
            )
        )
    return moved & set(pairs)


def abandoned_ids(conn: Connection, receptacle_ids: Sequence[str]) -> set[str]:
    """Which receptacles were abandoned (cheap when none ever was)."""
    if not receptacle_ids or not fetchall(conn, "SELECT 1 FROM abandoned_receptacles LIMIT 1"):
        return set()
    return abandoned(conn, receptacle_ids)


def settle_late_items(conn: Connection, item_ids: Sequence[str]) -> None:
    """Moved items whose pre-advice reached this node only after the listing: they take the
    state the listing gave them (the listing found no item row to update)."""
    for n in range(0, len(item_ids), 500):
        part = list(item_ids[n : n + 500])
        rows = fetchall(
            conn,
            "SELECT m.item_id, m.state, m.moved_at FROM failover_moves m JOIN items i"
            f" ON i.id = m.item_id WHERE i.state = 'pre_advised' AND m.item_id IN"
            f" ({marks(len(part))}) ORDER BY m.moved_at DESC, m.failover_id DESC",
            part,
        )
        set_state(conn, [(str(r[1]), "accepted" if r[1] == "held" else None, str(r[2]),
                          str(r[0])) for r in rows])  # fmt: skip


def _sets_no_version(
    conn: Connection, events: Sequence[StoredEvent[Any]]
) -> set[tuple[str, int, str]]:
    """(log, seq, item) of changes that leave the item as it is under the failover rules
    (docs/log-format.md, "Rules across logs" 5), so that they set no version either: a lost
    log's change of an item moved away from it, applied after the listing; a listing of a
    failover confirmed after another one of the same site that moved the item already."""
    if isinstance(events[0].event, FailoverItemsMoved):
        return {
            (e.site, e.seq, item)
            for e in events
            for item in _moved_first(conn, e.event.from_site, e.event.changed_items(),
                                     e.recorded_at, e.event.request_id)
        }  # fmt: skip
    pairs = [(e.site, item) for e in events for item in e.event.changed_items()]
    moved = moved_pairs(conn, pairs)
    if not moved:
        return set()
    return {
        (e.site, e.seq, i) for e in events for i in e.event.changed_items() if (e.site, i) in moved
    }


INEFFECTIVE.append(_sets_no_version)
