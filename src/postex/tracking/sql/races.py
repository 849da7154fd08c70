"""A cancel at one node racing a physical scan at another: the scan wins, on every node.

Neither node saw the other's change when it wrote it, so the two events reach the nodes in
either order. The items projection applies a cancel only to an item still cancellable;
here, after it (this projection comes last), the two orders are made to end alike:

- the cancel arrives after the acceptance: the item stays accepted, no ``CAN`` row exists;
- the acceptance arrives after the cancel: the acceptance takes the item (the sites
  projection), and the cancel's ``CAN`` row is removed here.

Either way the customer is told once, by the node whose log holds the cancel, with an
``item.cancellation_refused`` delivery whose id derives from the cancel's log position.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection

from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.fast import executemany, fetchall
from postex.items.events import ItemCancelled
from postex.sites.events import ItemAccepted
from postex.tracking.app import webhooks as wh
from postex.tracking.sql.announce import DELIVERY_INSERT, deliverable_here, marks

REFUSED_TYPE = "item.cancellation_refused"


def refused_payload(delivery: str, cancelled_at: str, item_id: str) -> str:
    """The JSON body telling the customer their cancellation came too late (no personal data)."""
    data = {
        "item_id": item_id,
        "cancelled_at": cancelled_at,
        "reason": "the item was accepted at a site before the cancellation reached it",
    }
    return json.dumps(
        {"id": delivery, "type": REFUSED_TYPE, "created_at": cancelled_at, "data": data},
        sort_keys=True,
        separators=(",", ":"),
    )


def _tell(conn: Connection, lost: Sequence[tuple[str, int, str, str]]) -> None:
    """Queue a refusal per (cancel's site, seq, item, recorded_at) whose log is this node's."""
    lost = [x for x in lost if deliverable_here(conn, x[0])]
    if not lost:
        return
    owners = dict(
        fetchall(
            conn,
            f"SELECT id, customer_id FROM items WHERE id IN ({marks(len(lost))})",
            [x[2] for x in lost],
        )
    )
    subs = fetchall(
        conn, "SELECT id, customer_id FROM webhook_subscriptions WHERE state <> 'deleted'"
    )
    out = []
    for site, seq, item_id, at in lost:
        customer = owners.get(item_id)
        for sub_id, sub_customer in subs:
            if sub_customer != customer:
                continue
            did = wh.delivery_id(sub_id, f"{site}:{seq}:{item_id}:cancel-refused")
            out.append((did, sub_id, customer, item_id, REFUSED_TYPE,
                        refused_payload(did, at, item_id), at, at))  # fmt: skip
    executemany(conn, DELIVERY_INSERT, out)


def cancel_lost(conn: Connection, events: Sequence[StoredEvent[ItemCancelled]]) -> None:
    """Cancels the items projection did not apply (the item was scanned meanwhile)."""
    ids = sorted({e.event.item_id for e in events})
    states = dict(
        fetchall(conn, f"SELECT id, state FROM items WHERE id IN ({marks(len(ids))})", ids)
    )
    _tell(
        conn,
        [(e.site, e.seq, e.event.item_id, e.recorded_at) for e in events
         if states.get(e.event.item_id) not in (None, "cancelled")],
    )  # fmt: skip


def scan_won(conn: Connection, events: Sequence[StoredEvent[ItemAccepted]]) -> None:
    """Acceptances of items a cancel had reached first: remove the cancel's row, tell."""
    ids = sorted({e.event.item_id for e in events})
    rows = fetchall(
        conn,
        "SELECT site, seq, item_id, occurred_utc FROM tracking_events"
        f" WHERE code = 'CAN' AND item_id IN ({marks(len(ids))})",
        ids,
    )
    if not rows:
        return
    executemany(
        conn,
        "DELETE FROM tracking_events WHERE site = ? AND seq = ? AND item_id = ?",
        [(r[0], r[1], r[2]) for r in rows],
    )
    _tell(conn, [(str(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows])
