"""Incident projections and repositories: holds, held items, advisories, the audit trail.

Every handler applies only what its event says (item ids, previous and target states are
in the event), so ``postex rebuild`` produces the same rows as the live system.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    String,
    Table,
    Text,
    and_,
    case,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy import column as text_column
from sqlalchemy import table as text_table

from postex.eventlog.events import StoredEvent
from postex.eventlog.sql import schema
from postex.eventlog.sql.fast import executemany, fetchall
from postex.eventlog.sql.projections import projection
from postex.eventlog.sql.schema import metadata
from postex.incidents.app.advisories import AdvisoryRecord, AdvisoryUpdate
from postex.incidents.app.policy import FlaggedReceptacle, HeldItem, HoldRecord
from postex.incidents.domain import HOLDABLE_STATES, Scope
from postex.incidents.events import (
    AdvisoryClosed,
    AdvisoryPublished,
    AdvisoryUpdated,
    HoldActivated,
    HoldConfirmed,
    HoldItemsHeld,
    HoldItemsReleased,
    HoldPlaced,
    HoldReleased,
    HoldReleaseRequested,
)
from postex.incidents.sql import audit_trail as _audit_trail  # noqa: F401 - registers it
from postex.items.domain.items import ItemState
from postex.items.sql.core import TRACKING_INSERT, set_state, tracking_row

holds = Table(
    "holds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("scope", Text, nullable=False),  # JSON, as in the event
    Column("network_wide", Boolean, nullable=False),
    Column("sites", Text, nullable=False),  # JSON list; [] is the whole network
    Column("reason", Text, nullable=False),
    Column("advisory", Text),
    Column("advisory_id", String(40)),
    Column("customer_facing", Boolean, nullable=False),
    Column("starts_at", String(32), nullable=False),
    Column("placed_at", String(32), nullable=False),
    Column("placed_by", Text, nullable=False),  # JSON actor
    Column("emergency", Boolean, nullable=False),
    Column("confirmed_at", String(32)),
    Column("confirmed_by", String(40)),
    Column("activated_at", String(32)),
    Column("released_at", String(32)),
    Column("release_request", Text),  # JSON, while a release waits for confirmation
    Column("origin_site", String(16)),  # the log it was placed in (NULL: placed before 0027)
    Index("ix_holds_released", "released_at"),
)

hold_items = Table(
    "hold_items",
    metadata,
    Column("hold_id", String(40), primary_key=True),
    Column("item_id", String(13), primary_key=True),
    Column("site", String(16), nullable=False),
    Column("held_from", String(20), nullable=False),
    Column("held_at", String(32), nullable=False),
    Column("released_at", String(32)),
    Index("ix_hold_items_site_open", "site", "released_at", "item_id"),
    Index("ix_hold_items_item", "item_id"),
)

advisories = Table(
    "advisories",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("hold_id", String(40), nullable=False),
    Column("text", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("starts_at", String(32), nullable=False),
    Column("published_at", String(32), nullable=False),
    Column("closed_at", String(32)),
)

advisory_updates = Table(
    "advisory_updates",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("advisory_id", String(40), nullable=False, index=True),
    Column("at", String(32), nullable=False),
    Column("text", Text, nullable=False),
)


HELD = str(ItemState.HELD)
RELEASED_CODE = "REL"  # a local tracking code (data/tracking_events.json), never sent to partners
HOLD_INSERT = (
    "INSERT INTO holds (id, scope, network_wide, sites, reason, advisory, advisory_id,"
    " customer_facing, starts_at, placed_at, placed_by, emergency, confirmed_at, confirmed_by,"
    " activated_at, released_at, release_request, origin_site)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)"
)
HOLD_ITEM_INSERT = (
    "INSERT INTO hold_items (hold_id, item_id, site, held_from, held_at, released_at)"
    " VALUES (?, ?, ?, ?, ?, NULL)"
)


# --- projections ---------------------------------------------------------------------
holds_p = projection("holds", holds, hold_items)


def _hold_items(conn: Connection, e: StoredEvent[HoldItemsHeld]) -> None:
    """Put the listed items on hold: state held (EXD), keeping the state held from."""
    hold_id, items = e.event.hold_id, e.event.items
    set_state(conn, [(HELD, frm, e.recorded_at, item) for item, frm, _site in items])
    executemany(
        conn, HOLD_ITEM_INSERT, [(hold_id, i, site, frm, e.recorded_at) for i, frm, site in items]
    )
    executemany(conn, TRACKING_INSERT, [tracking_row(e, i, "EXD", site) for i, _f, site in items])


@holds_p.on(HoldPlaced)
def _placed(conn: Connection, events: Sequence[StoredEvent[HoldPlaced]]) -> None:
    for e in events:
        d = e.event
        scope = Scope.from_dict(d.scope)
        confirmed = not d.needs_confirmation
        executemany(
            conn,
            HOLD_INSERT,
            [(
                d.hold_id, json.dumps(scope.to_dict()), scope.network_wide,
                json.dumps(list(scope.sites)), d.reason, d.advisory, d.advisory_id,
                d.customer_facing, d.starts_at, e.recorded_at,
                json.dumps(d.placed_by, sort_keys=True), d.emergency,
                e.recorded_at if confirmed else None,
                None, e.recorded_at if d.in_force else None, e.site,
            )],
        )  # fmt: skip


@holds_p.on(HoldItemsHeld)
def _items_held(conn: Connection, events: Sequence[StoredEvent[HoldItemsHeld]]) -> None:
    for e in events:
        _hold_items(conn, e)


@holds_p.on(HoldConfirmed)
def _confirmed(conn: Connection, events: Sequence[StoredEvent[HoldConfirmed]]) -> None:
    for e in events:
        d = e.event
        executemany(
            conn,
            "UPDATE holds SET confirmed_at = ?, confirmed_by = ?, activated_at = ?,"
            " advisory_id = ? WHERE id = ?",
            [(e.recorded_at, d.confirmed_by["id"], e.recorded_at if d.in_force else None,
              d.advisory_id, d.hold_id)],
        )  # fmt: skip


@holds_p.on(HoldActivated)
def _activated(conn: Connection, events: Sequence[StoredEvent[HoldActivated]]) -> None:
    executemany(
        conn,
        "UPDATE holds SET activated_at = ? WHERE id = ?",
        [(e.recorded_at, e.event.hold_id) for e in events],
    )


@holds_p.on(HoldReleaseRequested)
def _release_requested(
    conn: Connection, events: Sequence[StoredEvent[HoldReleaseRequested]]
) -> None:
    rows = []
    for e in events:
        d = e.event
        request = {"request_id": d.request_id, "items": d.items, "services": d.services,
                   "reason": d.reason, "requested_by": d.requested_by,
                   "requested_at": e.recorded_at}  # fmt: skip
        rows.append((json.dumps(request, sort_keys=True), d.hold_id))
    executemany(conn, "UPDATE holds SET release_request = ? WHERE id = ?", rows)


@holds_p.on(HoldItemsReleased)
def _items_released(conn: Connection, events: Sequence[StoredEvent[HoldItemsReleased]]) -> None:
    """Held items return to the state the event names (the one they were held from); each
    gets a public tracking row REL (Postex's own code: UPU has none for a lifted hold) at
    the site that held it, so tracking no longer ends on EXD."""
    for e in events:
        d = e.event
        set_state(conn, [(target, None, e.recorded_at, item) for item, target in d.items])
        executemany(
            conn,
            "UPDATE hold_items SET released_at = ? WHERE hold_id = ? AND item_id = ?",
            [(e.recorded_at, d.hold_id, item) for item, _t in d.items],
        )
        sites = _held_at(conn, d.hold_id, [item for item, _t in d.items])
        executemany(
            conn,
            TRACKING_INSERT,
            [tracking_row(e, item, RELEASED_CODE, sites.get(item)) for item, _t in d.items],
        )


def _held_at(conn: Connection, hold_id: str, item_ids: list[str]) -> dict[str, str]:
    """Where the hold caught these items (its own rows: the same on a rebuild)."""
    h = hold_items
    out: dict[str, str] = {}
    for n in range(0, len(item_ids), 500):
        q = select(h.c.item_id, h.c.site).where(
            h.c.hold_id == hold_id, h.c.item_id.in_(item_ids[n : n + 500])
        )
        out.update((r[0], r[1]) for r in conn.execute(q))
    return out


@holds_p.on(HoldReleased)
def _released(conn: Connection, events: Sequence[StoredEvent[HoldReleased]]) -> None:
    executemany(
        conn,
        "UPDATE holds SET release_request = NULL, released_at = ? WHERE id = ?",
        [(e.recorded_at if e.event.complete else None, e.event.hold_id) for e in events],
    )


advisories_p = projection("advisories", advisories, advisory_updates)


@advisories_p.on(AdvisoryPublished)
def _published(conn: Connection, events: Sequence[StoredEvent[AdvisoryPublished]]) -> None:
    executemany(
        conn,
        "INSERT INTO advisories (id, hold_id, text, scope, starts_at, published_at, closed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, NULL)",
        [
            (d.advisory_id, d.hold_id, d.text, json.dumps(d.scope, sort_keys=True), d.starts_at,
             e.recorded_at)
            for e in events
            for d in (e.event,)
        ],
    )  # fmt: skip


@advisories_p.on(AdvisoryUpdated, AdvisoryClosed)
def _advisory_update(
    conn: Connection, events: Sequence[StoredEvent[AdvisoryUpdated | AdvisoryClosed]]
) -> None:
    executemany(
        conn,
        "INSERT INTO advisory_updates (site, seq, advisory_id, at, text) VALUES (?, ?, ?, ?, ?)",
        [(e.site, e.seq, e.event.advisory_id, e.recorded_at, e.event.text) for e in events],
    )
    closed = [
        (e.recorded_at, e.event.advisory_id) for e in events if isinstance(e.event, AdvisoryClosed)
    ]
    executemany(conn, "UPDATE advisories SET closed_at = ? WHERE id = ?", closed)


def _counts(conn: Connection, ids: list[str]) -> dict[str, tuple[int, int]]:
    if not ids:
        return {}
    h, t = hold_items, schema.items
    still_held = case((and_(h.c.released_at.is_(None), t.c.state == HELD), 1), else_=0)
    q = (
        select(h.c.hold_id, func.sum(still_held), func.count(h.c.released_at))
        .join(t, t.c.id == h.c.item_id)
        .where(h.c.hold_id.in_(ids))
        .group_by(h.c.hold_id)
    )
    return {r[0]: (int(r[1] or 0), int(r[2])) for r in conn.execute(q)}


def _hold(r: Any, counts: dict[str, tuple[int, int]]) -> HoldRecord:
    m = r._mapping
    held, released = counts.get(m["id"], (0, 0))
    return HoldRecord(
        id=m["id"], scope=Scope.from_dict(json.loads(m["scope"])), reason=m["reason"],
        advisory=m["advisory"], advisory_id=m["advisory_id"],
        customer_facing=bool(m["customer_facing"]), starts_at=m["starts_at"],
        placed_at=m["placed_at"], placed_by=json.loads(m["placed_by"]),
        emergency=bool(m["emergency"]), confirmed_at=m["confirmed_at"],
        confirmed_by=m["confirmed_by"], activated_at=m["activated_at"],
        released_at=m["released_at"],
        release_request=json.loads(m["release_request"]) if m["release_request"] else None,
        held=held, released=released, origin=m["origin_site"],
    )  # fmt: skip


def _held_from() -> Any:
    """The state a held item returns to: the item's own, which changes when a held item is
    taken out of its receptacle (it then returns to accepted), else the one it was held from."""
    return func.coalesce(schema.items.c.held_from, hold_items.c.held_from)


def _holds(conn: Connection, rows: Sequence[Any]) -> list[HoldRecord]:
    counts = _counts(conn, [r.id for r in rows])
    return [_hold(r, counts) for r in rows]


class SqlHolds:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, hold_id: str) -> HoldRecord | None:
        rows = self.conn.execute(select(holds).where(holds.c.id == hold_id)).all()
        found = _holds(self.conn, rows)
        return found[0] if found else None

    def live(self) -> list[HoldRecord]:
        q = select(holds).where(holds.c.released_at.is_(None)).order_by(holds.c.placed_at)
        return [_hold(r, {}) for r in self.conn.execute(q)]  # the policy needs no counts

    def all(self, site: str | None) -> list[HoldRecord]:
        q = select(holds).order_by(holds.c.placed_at.desc(), holds.c.id)
        if site is not None:
            q = q.where(or_(holds.c.network_wide, holds.c.sites.contains(json.dumps(site))))
        return _holds(self.conn, self.conn.execute(q).all())

    def candidates(self, scope: Scope) -> list[tuple[str, str, str]]:
        """Where an item is: the site that accepted it, else the site it was pre-advised at."""
        t = schema.items
        handled = _has_table(self.conn, "item_handling")
        h = text_table("item_handling", text_column("item_id"), text_column("site"))
        site_col = func.coalesce(h.c.site, t.c.origin_site) if handled else t.c.origin_site
        q = select(t.c.id, t.c.state, site_col).where(
            t.c.state.in_([str(s) for s in HOLDABLE_STATES])
        )
        if handled:
            q = q.select_from(t.outerjoin(h, h.c.item_id == t.c.id))
        if scope.sites:
            q = q.where(site_col.in_(scope.sites))
        if scope.destinations:
            q = q.where(t.c.destination.in_(scope.destinations))
        if scope.services:
            q = q.where(t.c.service.in_(scope.services))
        if scope.goods_only:
            q = q.where(or_(t.c.has_goods, t.c.customs_form.is_not(None)))
        return [(r[0], r[1], r[2]) for r in self.conn.execute(q.order_by(t.c.id))]

    def held_by(self, hold_id: str) -> list[tuple[str, str, str]]:
        h, t = hold_items, schema.items
        q = (
            select(h.c.item_id, _held_from(), t.c.service)
            .join(t, t.c.id == h.c.item_id)
            .where(h.c.hold_id == hold_id, h.c.released_at.is_(None), t.c.state == HELD)
            .order_by(h.c.item_id)
        )
        return [(r[0], r[1], r[2]) for r in self.conn.execute(q)]

    def holding(self, item_ids: Sequence[str]) -> dict[str, str]:
        h, t = hold_items, schema.items
        out: dict[str, str] = {}
        for n in range(0, len(item_ids), 500):
            q = (
                select(h.c.item_id, h.c.hold_id)
                .join(t, t.c.id == h.c.item_id)
                .where(h.c.item_id.in_(item_ids[n : n + 500]), h.c.released_at.is_(None))
                .where(t.c.state == HELD)
            )
            out.update((r[0], r[1]) for r in self.conn.execute(q))
        return out

    def is_released(self, hold_id: str, item_id: str) -> bool:
        rows = fetchall(
            self.conn,
            "SELECT 1 FROM hold_items WHERE hold_id = ? AND item_id = ?"
            " AND released_at IS NOT NULL",
            (hold_id, item_id),
        )
        return bool(rows)

    def queue(
        self, site: str | None, hold_id: str | None, after: str | None, limit: int
    ) -> list[HeldItem]:
        h, t = hold_items, schema.items
        q = (
            select(
                h.c.item_id,
                h.c.hold_id,
                h.c.site,
                h.c.held_at,
                _held_from().label("held_from"),
                t.c.service,
                t.c.destination,
                t.c.has_goods,
                t.c.customs_form,
            )
            .join(t, t.c.id == h.c.item_id)
            .where(h.c.released_at.is_(None), t.c.state == HELD)
        )
        if site is not None:
            q = q.where(h.c.site == site)
        if hold_id is not None:
            q = q.where(h.c.hold_id == hold_id)
        if after is not None:
            q = q.where(h.c.item_id > after)
        rows = self.conn.execute(q.order_by(h.c.item_id).limit(limit)).all()
        flags = receptacle_flags(self.conn, [r.item_id for r in rows])
        return [
            HeldItem(r.item_id, r.hold_id, r.site, r.service, r.destination, bool(r.has_goods),
                     r.customs_form, r.held_from, r.held_at, tuple(flags.get(r.item_id, ())))
            for r in rows
        ]  # fmt: skip

    def flagged(self, site: str | None) -> list[FlaggedReceptacle]:
        return flagged_receptacles(self.conn, site)


def receptacle_flags(conn: Connection, item_ids: list[str]) -> dict[str, list[str]]:
    """Open receptacles holding these items (the site-operations projection, read only)."""
    if not item_ids or not _has_table(conn, "receptacles"):
        return {}
    marks = ", ".join("?" * len(item_ids))
    rows = fetchall(
        conn,
        "SELECT h.item_id, r.id FROM item_handling h JOIN receptacles r ON r.id = h.receptacle_id"
        f" WHERE r.state = 'open' AND h.item_id IN ({marks})",
        item_ids,
    )
    out: dict[str, list[str]] = {}
    for item_id, receptacle_id in rows:
        out.setdefault(item_id, []).append(receptacle_id)
    return out


def flagged_receptacles(conn: Connection, site: str | None) -> list[FlaggedReceptacle]:
    """Open receptacles (site operations' projection, read only) that contain held items."""
    if not _has_table(conn, "receptacles"):
        return []
    where = " AND r.site = ?" if site else ""
    rows = fetchall(
        conn,
        "SELECT r.id, r.site, count(*) FROM receptacles r"
        " JOIN item_handling h ON h.receptacle_id = r.id"
        " JOIN hold_items x ON x.item_id = h.item_id AND x.released_at IS NULL"
        " JOIN items i ON i.id = x.item_id AND i.state = 'held'"
        f" WHERE r.state = 'open'{where} GROUP BY r.id, r.site ORDER BY r.id",
        (site,) if site else (),
    )
    return [FlaggedReceptacle(r[0], r[1], int(r[2])) for r in rows]


def _has_table(conn: Connection, name: str) -> bool:
    """Site operations' tables are another feature's; read them only where they exist."""
    return inspect(conn).has_table(name)


class SqlAdvisories:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _records(self, rows: Sequence[Any]) -> list[AdvisoryRecord]:
        ids = [r.id for r in rows]
        updates: dict[str, list[AdvisoryUpdate]] = {}
        if ids:
            u = advisory_updates
            q = select(u).where(u.c.advisory_id.in_(ids)).order_by(u.c.at, u.c.site, u.c.seq)
            for r in self.conn.execute(q):
                updates.setdefault(r.advisory_id, []).append(AdvisoryUpdate(r.at, r.text))
        return [
            AdvisoryRecord(r.id, r.hold_id, r.text, Scope.from_dict(json.loads(r.scope)),
                           r.starts_at, r.published_at, r.closed_at,
                           tuple(updates.get(r.id, ())))
            for r in rows
        ]  # fmt: skip

    def get(self, advisory_id: str) -> AdvisoryRecord | None:
        rows = self.conn.execute(select(advisories).where(advisories.c.id == advisory_id)).all()
        found = self._records(rows)
        return found[0] if found else None

    def open_or_closed_since(self, since: str) -> list[AdvisoryRecord]:
        a = advisories
        q = (
            select(a)
            .where(or_(a.c.closed_at.is_(None), a.c.closed_at >= since))
            .order_by(a.c.published_at.desc(), a.c.id)
        )
        return self._records(self.conn.execute(q).all())
