"""Queueing webhook deliveries for new tracking rows, shared by the tracking handlers.

A delivery's id is derived from the log position of the row it announces, so a rebuild
queues the same deliveries (see :func:`postex.tracking.app.webhooks.delivery_id`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from postex.eventlog.sql.fast import executemany, fetchall
from postex.items.sql.core import set_state
from postex.tracking.app import partner_events as pe
from postex.tracking.app import webhooks as wh

DELIVERY_INSERT = (
    "INSERT INTO webhook_deliveries (id, subscription_id, customer_id, item_id, event_type,"
    " payload, state, attempts, round_start, next_attempt_at, last_status, last_error,"
    " created_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, NULL, NULL, ?, NULL)"
)


# Engine execution option set on a hub's store (see bootstrap): the hub keeps copies of the
# sites' subscriptions, but each site delivers its own customers' webhooks, so the hub's
# projections queue no deliveries at all (live and in a rebuild alike).
HUB_OPTION = "postex_hub"
# Engine execution option set on a site of a network (see bootstrap): the site's code. A
# site also projects the logs of the nodes it follows; each node announces only the events
# of its own log, so a customer hears of each event once, from the node that recorded it.
OWN_LOG_OPTION = "postex_own_log"


def deliverable_here(conn: Connection, site: str | None = None) -> bool:
    """False on a hub (nothing there may ever send a webhook), and on a site of a network
    for an event of another node's log (``site``: the log the event belongs to)."""
    options = conn.get_execution_options()
    if options.get(HUB_OPTION, False):
        return False
    own = options.get(OWN_LOG_OPTION)
    return own is None or site is None or site == own


def marks(n: int) -> str:
    return ", ".join(["?"] * n)


def chunks(values: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


@dataclass(frozen=True)
class NewRow:
    """A tracking row just written, to announce to subscribers."""

    site: str
    seq: int
    item_id: str
    code: str
    occurred_at: str
    office: str | None
    source: str
    recorded_at: str
    customer_id: str


def subscriptions(conn: Connection) -> dict[str, list[tuple[str, list[str] | None]]]:
    """customer id -> [(subscription id, chosen statuses or None)] of live subscriptions."""
    rows = fetchall(
        conn, "SELECT id, customer_id, statuses FROM webhook_subscriptions WHERE state <> 'deleted'"
    )
    out: dict[str, list[tuple[str, list[str] | None]]] = {}
    for sub_id, customer_id, statuses in rows:
        out.setdefault(customer_id, []).append((sub_id, json.loads(statuses) if statuses else None))
    return out


def announce(conn: Connection, rows: Sequence[NewRow]) -> None:
    """Queue one delivery per (row, subscription of the row's customer that wants it)."""
    if not rows or not deliverable_here(conn):
        return
    subs = subscriptions(conn)
    if not subs:
        return
    out = []
    for r in rows:
        if not deliverable_here(conn, r.site):
            continue
        for sub_id, statuses in subs.get(r.customer_id, ()):
            if not wh.wants(statuses, r.code):
                continue
            did = wh.delivery_id(sub_id, f"{r.site}:{r.seq}:{r.item_id}")
            payload = wh.tracking_payload(
                did, r.recorded_at, r.item_id, r.code, r.occurred_at, r.office, r.source
            )
            out.append((did, sub_id, r.customer_id, r.item_id, "item.tracking_event", payload,
                        r.recorded_at, r.recorded_at))  # fmt: skip
    executemany(conn, DELIVERY_INSERT, out)


def items_of(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str, str, str, str]]:
    """id -> (customer_id, state, destination, service)."""
    found: dict[str, tuple[str, str, str, str]] = {}
    unique = sorted(set(ids))
    for part in chunks(unique):
        for r in fetchall(
            conn,
            "SELECT id, customer_id, state, destination, service FROM items"
            f" WHERE id IN ({marks(len(part))})",
            part,
        ):
            found[r[0]] = (r[1], r[2], r[3], r[4])
    return found


class States:
    """Item states moved by partner events within one run, written once at the end."""

    def __init__(self, items: dict[str, tuple[str, str, str, str]]) -> None:
        self.current = {k: v[1] for k, v in items.items()}
        self.changed: dict[str, tuple[str, str]] = {}

    def apply(self, item_id: str, code: str, at: str) -> None:
        now = self.current[item_id]
        target = pe.state_after(now, code)
        if target is not None and target != now:
            self.current[item_id] = target
            self.changed[item_id] = (target, at)

    def write(self, conn: Connection) -> None:
        set_state(conn, [(s, None, at, i) for i, (s, at) in self.changed.items()])
