"""Partners and their tracking events: projection handlers, quarantine, repositories.

The handlers are registered on the ``tracking_ops`` projection by
:mod:`postex.tracking.sql.projection` (which must stay the last projection).
An event for an item not known yet waits in ``partner_quarantine`` until the item's
pre-advice arrives; it then joins the timeline or, if the item is not routed to the
sending post, is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection

from postex.accounts.app.partners import PartnerRecord
from postex.accounts.events import PartnerRegistered
from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.fast import executemany, fetchall
from postex.items.events import ItemPreAdvised
from postex.items.sql.core import TRACKING_INSERT, local_time
from postex.tracking.app import partner_events as pe
from postex.tracking.events import PartnerEventRecorded
from postex.tracking.sql.announce import (
    NewRow,
    States,
    announce,
    chunks,
    items_of,
    marks,
    subscriptions,
)


def partner_registered(conn: Connection, events: Sequence[StoredEvent[PartnerRegistered]]) -> None:
    executemany(
        conn,
        "INSERT INTO partners (id, name, offices, created_at) VALUES (?, ?, ?, ?)",
        [(p.partner_id, p.name, json.dumps(p.offices), e.recorded_at)
         for e in events for p in (e.event,)],
    )  # fmt: skip


def partner_event(conn: Connection, events: Sequence[StoredEvent[PartnerEventRecorded]]) -> None:
    executemany(
        conn,
        "INSERT INTO partner_event_keys (event_key, site, seq) VALUES (?, ?, ?)",
        [(_key(e.event), e.site, e.seq) for e in events],
    )
    items = items_of(conn, [e.event.item_id for e in events])
    states = States(items)
    tracking, waiting, new_rows = [], [], []
    for e in events:
        p = e.event
        item = items.get(p.item_id)
        if item is None:
            waiting.append(_quarantine_row(e))
            continue
        tracking.append((e.site, e.seq, p.item_id, p.code, p.occurred_at, p.occurred_utc,
                         p.office, p.reason, "partner"))  # fmt: skip
        states.apply(p.item_id, p.code, e.recorded_at)
        new_rows.append(NewRow(e.site, e.seq, p.item_id, p.code, p.occurred_at, p.office,
                               "partner", e.recorded_at, item[0]))  # fmt: skip
    executemany(conn, TRACKING_INSERT, tracking)
    states.write(conn)
    executemany(
        conn,
        "INSERT INTO partner_quarantine (site, seq, item_id, code, occurred_at, occurred_utc,"
        " office, reason, partner_id, operators, received_at, status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting')",
        waiting,
    )
    announce(conn, new_rows)


def _key(p: PartnerEventRecorded) -> str:
    return pe.event_key(p.item_id, p.code, p.occurred_utc, p.office)


def _quarantine_row(e: StoredEvent[PartnerEventRecorded]) -> tuple[object, ...]:
    p = e.event
    return (e.site, e.seq, p.item_id, p.code, p.occurred_at, p.occurred_utc, p.office, p.reason,
            p.partner_id, json.dumps(p.operators or []), e.recorded_at)  # fmt: skip


def item_pre_advised(conn: Connection, events: Sequence[StoredEvent[ItemPreAdvised]]) -> None:
    """Announce PRE to subscribers, then attach any quarantined partner events.

    The core keeps no tracking row for PRE (the item row stands for it), so PRE is
    announced from the event itself.
    """
    subs = subscriptions(conn)
    announce(
        conn,
        [NewRow(e.site, e.seq, a.item_id, "PRE", local_time(e.recorded_at), None, "site",
                e.recorded_at, a.customer_id)
         for e in events for a in (e.event,) if a.customer_id in subs],
    )  # fmt: skip
    if not fetchall(conn, "SELECT 1 FROM partner_quarantine WHERE status = 'waiting' LIMIT 1"):
        return
    by_id = {e.event.item_id: e for e in events}
    waiting = []
    for part in chunks(sorted(by_id)):
        waiting += fetchall(
            conn,
            "SELECT site, seq, item_id, code, occurred_at, occurred_utc, office, reason, operators"
            " FROM partner_quarantine WHERE status = 'waiting'"
            f" AND item_id IN ({marks(len(part))})"
            " ORDER BY occurred_utc, site, seq",
            part,
        )
    if not waiting:
        return
    items = items_of(conn, [w[2] for w in waiting])
    states = States(items)
    tracking, new_rows, status = [], [], []
    for site, seq, item_id, code, occurred_at, occurred_utc, office, reason, operators in waiting:
        e = by_id[item_id]
        a = e.event
        if not pe.may_attach(
            occurred_utc, json.loads(operators), a.destination, a.service, e.recorded_at
        ):
            status.append(("refused", site, seq))
            continue
        tracking.append((site, seq, item_id, code, occurred_at, occurred_utc, office, reason,
                         "partner"))  # fmt: skip
        states.apply(item_id, code, e.recorded_at)
        new_rows.append(NewRow(site, seq, item_id, code, occurred_at, office, "partner",
                               e.recorded_at, a.customer_id))  # fmt: skip
        status.append(("attached", site, seq))
    executemany(conn, TRACKING_INSERT, tracking)
    states.write(conn)
    executemany(conn, "UPDATE partner_quarantine SET status = ? WHERE site = ? AND seq = ?", status)
    announce(conn, new_rows)


# --- repositories ----------------------------------------------------------------------
class SqlPartners:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, partner_id: str) -> PartnerRecord | None:
        rows = fetchall(
            self.conn, "SELECT id, name, offices, created_at FROM partners WHERE id = ?",
            (partner_id,),
        )  # fmt: skip
        return PartnerRecord(rows[0][0], rows[0][1], tuple(json.loads(rows[0][2])), rows[0][3]) \
            if rows else None  # fmt: skip

    def list(self) -> list[PartnerRecord]:
        rows = fetchall(
            self.conn, "SELECT id, name, offices, created_at FROM partners ORDER BY created_at, id"
        )
        return [PartnerRecord(r[0], r[1], tuple(json.loads(r[2])), r[3]) for r in rows]


class SqlPartnerEvents:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def items_brief(self, item_ids: Sequence[str]) -> dict[str, pe.ItemBrief]:
        out = {}
        for part in chunks(item_ids):
            for r in fetchall(
                self.conn,
                "SELECT i.id, i.customer_id, i.destination, i.service, i.state, i.created_at,"
                " h.accepted_at, d.handed_over_at FROM items i"
                " LEFT JOIN item_handling h ON h.item_id = i.id"
                " LEFT JOIN despatches d ON d.id = h.despatch_id"
                f" WHERE i.id IN ({marks(len(part))})",
                part,
            ):
                out[r[0]] = pe.ItemBrief(*r)
        return out

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in chunks(keys):
            found.update(
                r[0]
                for r in fetchall(
                    self.conn,
                    "SELECT event_key FROM partner_event_keys"
                    f" WHERE event_key IN ({marks(len(part))})",
                    part,
                )
            )
        return found

    def quarantine(
        self, status: str | None, limit: int, partner_id: str | None = None
    ) -> list[pe.QuarantineRow]:
        conditions, params = [], []
        if partner_id is not None:  # a partner's view: scoped here, in SQL
            conditions.append("partner_id = ?")
            params.append(partner_id)
        if status:
            conditions.append("status = ?")
            params.append(status)
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        rows = fetchall(
            self.conn,
            "SELECT site, seq, item_id, code, occurred_at, office, partner_id, received_at, status"
            f" FROM partner_quarantine {where} ORDER BY received_at, site, seq LIMIT {int(limit)}",
            params,
        )
        return [pe.QuarantineRow(*r) for r in rows]
