"""Track and trace: the ``tracking_ops`` projection (partners, partner events and their
quarantine, webhook subscriptions and deliveries) and the public tracking read.

The handlers live in :mod:`.partners` and :mod:`.webhooks`, the tables in
:mod:`.schema`; this module declares the projection and registers them by event class. It
comes after every other feature's projection in ``bootstrap.PROJECTIONS``: for every
other event type it announces to webhooks the tracking rows those projections just wrote.

Every handler is a function of the event and of projection rows written by earlier events,
so ``postex rebuild`` recreates the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from postex.accounts.events import PartnerRegistered
from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.fast import fetchall
from postex.eventlog.sql.projections import projection
from postex.incidents.events import AdvisoryClosed, AdvisoryPublished, AdvisoryUpdated
from postex.items.app.timeline import TrackingRow
from postex.items.events import ItemCancelled, ItemPreAdvised
from postex.items.sql.core import local_time
from postex.sites.events import FailoverItemsMoved, ItemAccepted
from postex.tracking.events import (
    PartnerEventRecorded,
    WebhookDeleted,
    WebhookDeliveryAttempted,
    WebhookRedeliveryRequested,
    WebhookSubscribed,
    WebhookTestRequested,
)
from postex.tracking.sql import failover_notices, partners, races, webhooks
from postex.tracking.sql.announce import NewRow, announce, subscriptions
from postex.tracking.sql.schema import TRACKING_OPS_TABLES

tracking_ops_p = projection("tracking_ops", *TRACKING_OPS_TABLES)

tracking_ops_p.on(PartnerRegistered)(partners.partner_registered)
tracking_ops_p.on(PartnerEventRecorded)(partners.partner_event)
tracking_ops_p.on(ItemPreAdvised)(partners.item_pre_advised)
tracking_ops_p.on(AdvisoryPublished, AdvisoryUpdated, AdvisoryClosed)(webhooks.advisory)
tracking_ops_p.on(WebhookSubscribed)(webhooks.subscribed)
tracking_ops_p.on(WebhookDeleted)(webhooks.deleted)
tracking_ops_p.on(WebhookDeliveryAttempted)(webhooks.attempted)
tracking_ops_p.on(WebhookRedeliveryRequested)(webhooks.redeliver)
tracking_ops_p.on(WebhookTestRequested)(webhooks.tested)


def _announce_site_rows(conn: Connection, events: Sequence[StoredEvent]) -> None:
    """Announce the tracking rows our own sites' events wrote (any feature's).

    Runs after those features' projections (this module is imported after them, see
    bootstrap), for every event type, so a new kind of site event needs no change here.
    """
    subs = subscriptions(conn)
    if not subs or not events:
        return
    spans: dict[str, tuple[int, int]] = {}
    for e in events:
        low, high = spans.get(e.site, (e.seq, e.seq))
        spans[e.site] = (min(low, e.seq), max(high, e.seq))
    rows = []
    for site, (low, high) in spans.items():
        rows += fetchall(
            conn,
            "SELECT t.site, t.seq, t.item_id, t.code, t.occurred_at, t.office, t.occurred_utc,"
            " i.customer_id FROM tracking_events t JOIN items i ON i.id = t.item_id"
            " WHERE t.site = ? AND t.seq >= ? AND t.seq <= ? AND t.source = 'site'"
            " AND t.code <> 'PRE'"
            " ORDER BY t.seq, t.item_id",
            (site, low, high),
        )
    announce(
        conn,
        [NewRow(r[0], r[1], r[2], r[3], r[4], r[5], "site", r[6], r[7]) for r in rows
         if r[7] in subs],
    )  # fmt: skip


# Every type this projection has no handler of its own for announces its site rows.
tracking_ops_p.otherwise = _announce_site_rows


@tracking_ops_p.on(FailoverItemsMoved)
def _failover_moved(conn: Connection, events: Sequence[StoredEvent[FailoverItemsMoved]]) -> None:
    failover_notices.items_moved(conn, events)
    _announce_site_rows(conn, events)


@tracking_ops_p.on(ItemCancelled)
def _cancelled(conn: Connection, events: Sequence[StoredEvent[ItemCancelled]]) -> None:
    races.cancel_lost(conn, events)
    _announce_site_rows(conn, events)


@tracking_ops_p.on(ItemAccepted)
def _accepted(conn: Connection, events: Sequence[StoredEvent[ItemAccepted]]) -> None:
    races.scan_won(conn, events)
    _announce_site_rows(conn, events)


class SqlPublicTracking:
    """The public tracking hot path: one indexed query through the DB-API cursor."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def public_view(self, item_id: str) -> tuple[tuple[str, str] | None, list[TrackingRow]]:
        rows = fetchall(
            self.conn,
            "SELECT i.service, i.destination, i.created_at, i.origin_site, t.code, t.occurred_at,"
            " t.occurred_utc, t.office, t.reason, t.source, t.site, t.seq FROM items i"
            " LEFT JOIN tracking_events t ON t.item_id = i.id WHERE i.id = ?",
            (item_id,),
        )
        if not rows:
            return None, []
        service, destination, created_at, origin = rows[0][:4]
        timeline = [TrackingRow(item_id, *r[4:]) for r in rows if r[4] is not None]
        if not any(r.code == "PRE" for r in timeline):  # the item row stands for its PRE
            pre = TrackingRow(item_id, "PRE", local_time(created_at), created_at, None, None,
                              "site", origin, 0)  # fmt: skip
            timeline.append(pre)
        timeline.sort(key=lambda r: (r.occurred_utc, r.site, r.seq))
        return (service, destination), timeline
