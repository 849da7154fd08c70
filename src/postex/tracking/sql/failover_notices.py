"""Customers are told where their items went when a lost site failed over.

For each item a ``site.failover_items_moved.v1`` event lists, every subscription of the
item's customer gets one ``item.site_changed`` delivery saying the item's new site. It is
queued once in the network: by the node whose log holds the confirmation when that node is
a site, and by the survivor when the confirmation is in a hub's log (a hub queues no
deliveries, rule 4 of docs/log-format.md). The delivery id derives from the event's log
position and the item, so ``postex rebuild`` queues the same deliveries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection

from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.fast import executemany, fetchall
from postex.kernel.network import load_network
from postex.sites.events import FailoverItemsMoved
from postex.tracking.app import webhooks as wh
from postex.tracking.sql.announce import DELIVERY_INSERT, deliverable_here, marks

MOVED_TYPE = "item.site_changed"


def moved_payload(delivery: str, moved_at: str, item_id: str, from_site: str, to_site: str) -> str:
    """The JSON body: which item, from which site to which (no personal data)."""
    data = {
        "item_id": item_id,
        "from_site": from_site,
        "site": to_site,
        "reason": "failover",
        "moved_at": moved_at,
    }
    return json.dumps(
        {"id": delivery, "type": MOVED_TYPE, "created_at": moved_at, "data": data},
        sort_keys=True,
        separators=(",", ":"),
    )


def _queues_here(conn: Connection, log: str, survivor: str) -> bool:
    """The confirming node's own log, or the survivor when a hub (no site) confirmed."""
    if deliverable_here(conn, log):
        return True
    return log not in {s.code for s in load_network().sites} and deliverable_here(conn, survivor)


def items_moved(conn: Connection, events: Sequence[StoredEvent[FailoverItemsMoved]]) -> None:
    """Queue one ``item.site_changed`` delivery per moved item and subscription."""
    subs = fetchall(
        conn, "SELECT id, customer_id FROM webhook_subscriptions WHERE state <> 'deleted'"
    )
    if not subs:
        return
    out = []
    for e in events:
        d = e.event
        if not _queues_here(conn, e.site, d.to_site):
            continue
        ids = [str(x[0]) for x in d.items]
        owners: dict[str, str] = {}
        for n in range(0, len(ids), 500):
            part = ids[n : n + 500]
            owners.update(
                (str(a), str(b))
                for a, b in fetchall(
                    conn,
                    f"SELECT id, customer_id FROM items WHERE id IN ({marks(len(part))})",
                    part,
                )
            )
        for item_id in ids:
            for sub_id, customer in subs:
                if customer != owners.get(item_id):
                    continue
                did = wh.delivery_id(sub_id, f"{e.site}:{e.seq}:{item_id}:site-changed")
                body = moved_payload(did, e.recorded_at, item_id, d.from_site, d.to_site)
                out.append((did, sub_id, customer, item_id, MOVED_TYPE, body, e.recorded_at,
                            e.recorded_at))  # fmt: skip
    executemany(conn, DELIVERY_INSERT, out)
