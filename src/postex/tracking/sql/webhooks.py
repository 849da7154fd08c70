"""Webhook subscriptions and deliveries: projection handlers and the repository.

Deliveries are projection rows: their ids are derived from the log position of what they
announce, and their outcomes come from ``webhook.delivery_attempted.v1`` events, so a
rebuilt node resends nothing already delivered. The handlers are registered on the
``tracking_ops`` projection by :mod:`postex.tracking.sql.projection`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.fast import executemany, fetchall
from postex.incidents.events import AdvisoryClosed, AdvisoryPublished, AdvisoryUpdated
from postex.tracking.app import webhooks as wh
from postex.tracking.events import (
    WebhookDeleted,
    WebhookDeliveryAttempted,
    WebhookRedeliveryRequested,
    WebhookSubscribed,
    WebhookTestRequested,
)
from postex.tracking.sql.announce import DELIVERY_INSERT, deliverable_here, marks


def advisory(
    conn: Connection,
    events: Sequence[StoredEvent[AdvisoryPublished | AdvisoryUpdated | AdvisoryClosed]],
) -> None:
    if not deliverable_here(conn):
        return
    subs = fetchall(
        conn,
        "SELECT id, customer_id FROM webhook_subscriptions WHERE state <> 'deleted'"
        " AND advisories = ? ORDER BY id",
        (True,),
    )
    out = []
    for e in events:
        if not deliverable_here(conn, e.site):
            continue
        kind = e.type.rsplit(".", 1)[0]
        for sub_id, customer_id in subs:
            did = wh.delivery_id(sub_id, f"{e.site}:{e.seq}")
            payload = wh.advisory_payload(did, e.recorded_at, kind, e.event)
            out.append((did, sub_id, customer_id, None, kind, payload, e.recorded_at,
                        e.recorded_at))  # fmt: skip
    executemany(conn, DELIVERY_INSERT, out)


def subscribed(conn: Connection, events: Sequence[StoredEvent[WebhookSubscribed]]) -> None:
    executemany(
        conn,
        "INSERT INTO webhook_subscriptions (id, customer_id, url, statuses, advisories, state,"
        " consecutive_failures, created_at, sealed) VALUES (?, ?, ?, ?, ?, 'active', 0, ?, ?)",
        [
            (s.subscription_id, s.customer_id, s.url,
             json.dumps(s.statuses) if s.statuses is not None else None,
             s.advisories, e.recorded_at, s.sealed)
            for e in events
            for s in (e.event,)
        ],
    )  # fmt: skip


def deleted(conn: Connection, events: Sequence[StoredEvent[WebhookDeleted]]) -> None:
    executemany(
        conn,
        "UPDATE webhook_subscriptions SET state = 'deleted' WHERE id = ?",
        [(e.event.subscription_id,) for e in events],
    )


def attempted(conn: Connection, events: Sequence[StoredEvent[WebhookDeliveryAttempted]]) -> None:
    executemany(
        conn,
        "INSERT INTO webhook_attempts (site, seq, delivery_id, attempt, customer_id, at, status,"
        " error, duration_ms) SELECT ?, ?, id, ?, customer_id, ?, ?, ?, ? FROM webhook_deliveries"
        " WHERE id = ?",
        [(e.site, e.seq, a.attempt, a.at, a.status, a.error, a.duration_ms, a.delivery_id)
         for e in events for a in (e.event,)],
    )  # fmt: skip
    for e in events:  # in order: a subscription's failure count depends on each outcome
        a = e.event
        executemany(
            conn,
            "UPDATE webhook_deliveries SET attempts = ?, state = ?, next_attempt_at = ?,"
            " last_status = ?, last_error = ?, delivered_at = ? WHERE id = ?",
            [(a.attempt, a.state, a.next_attempt_at or a.at, a.status, a.error,
              a.at if a.ok else None, a.delivery_id)],
        )  # fmt: skip
        if a.ok:
            sql = (
                "UPDATE webhook_subscriptions SET consecutive_failures = 0, state = CASE"
                " WHEN state = 'deleted' THEN state ELSE 'active' END WHERE id = ?"
            )
        else:
            sql = (
                "UPDATE webhook_subscriptions SET consecutive_failures = consecutive_failures + 1,"
                " state = CASE WHEN state <> 'deleted' AND consecutive_failures + 1 >= "
                f"{int(wh.FAILING_AFTER)} THEN 'failing' ELSE state END WHERE id = ?"
            )
        executemany(conn, sql, [(a.subscription_id,)])


def tested(conn: Connection, events: Sequence[StoredEvent[WebhookTestRequested]]) -> None:
    """A test delivery per request (none on a hub, like every delivery)."""
    if not deliverable_here(conn):
        return
    out = []
    for e in events:
        if not deliverable_here(conn, e.site):
            continue
        t = e.event
        did = wh.delivery_id(t.subscription_id, f"{e.site}:{e.seq}")
        payload = wh.payload_of_test(did, e.recorded_at, t.subscription_id)
        out.append((did, t.subscription_id, t.customer_id, None, wh.TEST_TYPE, payload,
                    e.recorded_at, e.recorded_at))  # fmt: skip
    executemany(conn, DELIVERY_INSERT, out)


def redeliver(conn: Connection, events: Sequence[StoredEvent[WebhookRedeliveryRequested]]) -> None:
    executemany(
        conn,
        "UPDATE webhook_deliveries SET state = 'pending', round_start = attempts,"
        " next_attempt_at = ? WHERE id = ?",
        [(e.recorded_at, e.event.delivery_id) for e in events],
    )


# --- repository ------------------------------------------------------------------------
SUB_COLUMNS = (
    "id, customer_id, url, statuses, advisories, state, consecutive_failures, created_at, sealed"
)
DELIVERY_COLUMNS = (
    "id, subscription_id, customer_id, item_id, event_type, payload, state, attempts,"
    " round_start, next_attempt_at, last_status, last_error, created_at, delivered_at"
)


def _sub(r: Sequence[Any]) -> wh.SubscriptionRecord:
    return wh.SubscriptionRecord(
        r[0], r[1], r[2], tuple(json.loads(r[3])) if r[3] else None, bool(r[4]), r[5], r[6],
        r[7], r[8],
    )  # fmt: skip


class SqlWebhooks:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, customer_id: str, subscription_id: str) -> wh.SubscriptionRecord | None:
        rows = fetchall(
            self.conn,
            f"SELECT {SUB_COLUMNS} FROM webhook_subscriptions"
            " WHERE id = ? AND customer_id = ? AND state <> 'deleted'",
            (subscription_id, customer_id),
        )
        return _sub(rows[0]) if rows else None

    def owned(self, customer_id: str) -> list[wh.SubscriptionRecord]:
        rows = fetchall(
            self.conn,
            f"SELECT {SUB_COLUMNS} FROM webhook_subscriptions"
            " WHERE customer_id = ? AND state <> 'deleted' ORDER BY created_at, id",
            (customer_id,),
        )
        return [_sub(r) for r in rows]

    def deliveries(
        self, customer_id: str, subscription_id: str, limit: int
    ) -> list[wh.DeliveryRecord]:
        rows = fetchall(
            self.conn,
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE customer_id = ?"
            f" AND subscription_id = ? ORDER BY created_at DESC, id LIMIT {int(limit)}",
            (customer_id, subscription_id),
        )
        return [wh.DeliveryRecord(*r) for r in rows]

    def delivery(self, customer_id: str, delivery_id: str) -> wh.DeliveryRecord | None:
        rows = fetchall(
            self.conn,
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ? AND customer_id = ?",
            (delivery_id, customer_id),
        )
        return wh.DeliveryRecord(*rows[0]) if rows else None

    def has_due(self, now: str) -> bool:
        return bool(
            fetchall(
                self.conn,
                "SELECT 1 FROM webhook_deliveries d JOIN webhook_subscriptions s"
                " ON s.id = d.subscription_id WHERE d.state = 'pending' AND d.next_attempt_at <= ?"
                " AND s.state <> 'deleted' AND (d.lease_until IS NULL OR d.lease_until <= ?)"
                " LIMIT 1",
                (now, now),
            )
        )

    def claim(
        self, now: str, lease_until: str, claimant: str, limit: int
    ) -> list[tuple[wh.DeliveryRecord, wh.SubscriptionRecord]]:
        """Lease due deliveries nobody holds: one conditional UPDATE, then read them back.

        On PostgreSQL the candidates are locked ``FOR UPDATE SKIP LOCKED`` (rows another
        worker is claiming are skipped, not waited for) and the outer conditions are checked
        again on the latest row version; on SQLite the write transaction (``BEGIN
        IMMEDIATE``) already serialises claimers. Reading back inside the same transaction
        gives each claimed row's current attempt count.
        """
        free = "(lease_until IS NULL OR lease_until <= ?)"
        lock = " FOR UPDATE OF d SKIP LOCKED" if self.conn.dialect.name == "postgresql" else ""
        claimed = fetchall(
            self.conn,
            "UPDATE webhook_deliveries SET claimed_by = ?, lease_until = ? WHERE id IN ("
            " SELECT d.id FROM webhook_deliveries d JOIN webhook_subscriptions s"
            " ON s.id = d.subscription_id WHERE d.state = 'pending' AND d.next_attempt_at <= ?"
            f" AND s.state <> 'deleted' AND {free.replace('lease', 'd.lease')}"
            f" ORDER BY d.next_attempt_at, d.id LIMIT {int(limit)}{lock})"
            f" AND state = 'pending' AND next_attempt_at <= ? AND {free} RETURNING id",
            (claimant, lease_until, now, now, now, now),
        )
        if not claimed:
            return []
        cols = ", ".join(f"d.{c.strip()}" for c in DELIVERY_COLUMNS.split(","))
        scols = ", ".join(f"s.{c.strip()}" for c in SUB_COLUMNS.split(","))
        ids = [r[0] for r in claimed]
        rows = fetchall(
            self.conn,
            f"SELECT {cols}, {scols} FROM webhook_deliveries d JOIN webhook_subscriptions s"
            f" ON s.id = d.subscription_id WHERE d.id IN ({marks(len(ids))})"
            " AND d.claimed_by = ? ORDER BY d.next_attempt_at, d.id",
            (*ids, claimant),
        )
        return [(wh.DeliveryRecord(*r[:14]), _sub(r[14:])) for r in rows]

    def release(self, claimant: str, delivery_ids: Sequence[str]) -> None:
        executemany(
            self.conn,
            "UPDATE webhook_deliveries SET claimed_by = NULL, lease_until = NULL"
            " WHERE id = ? AND claimed_by = ?",
            [(i, claimant) for i in delivery_ids],
        )

    def attempts(self, customer_id: str, delivery_id: str) -> list[wh.AttemptRecord]:
        rows = fetchall(
            self.conn,
            "SELECT attempt, at, status, error, duration_ms FROM webhook_attempts"
            " WHERE delivery_id = ? AND customer_id = ? ORDER BY attempt, site, seq",
            (delivery_id, customer_id),
        )
        return [wh.AttemptRecord(*r) for r in rows]
