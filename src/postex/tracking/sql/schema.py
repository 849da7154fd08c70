"""Track and trace tables: partners, partner event keys and quarantine, webhooks.

All of them are rows of the ``tracking_ops`` projection (declared in
:mod:`postex.tracking.sql.projection`), recreated by ``postex rebuild``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from postex.eventlog.sql.schema import metadata

partners = Table(
    "partners",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("offices", Text, nullable=False),  # JSON list of IMPC codes
    Column("created_at", String(32), nullable=False),
)

partner_event_keys = Table(
    "partner_event_keys",
    metadata,
    Column("event_key", String(80), primary_key=True),  # item|code|utc time|office
    Column("site", String(16), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

partner_quarantine = Table(
    "partner_quarantine",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("item_id", String(13), nullable=False),
    Column("code", String(8), nullable=False),
    Column("occurred_at", String(40), nullable=False),
    Column("occurred_utc", String(32), nullable=False),
    Column("office", String(16)),
    Column("reason", String(8)),
    Column("partner_id", String(40), nullable=False),
    Column("operators", Text, nullable=False),  # JSON list of operator codes
    Column("received_at", String(32), nullable=False),
    Column("status", String(10), nullable=False),  # waiting | attached | refused
    Index("ix_quarantine_item", "item_id", "status"),
    Index("ix_quarantine_status", "status", "received_at"),
    Index("ix_quarantine_partner", "partner_id", "received_at"),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_id", String(40), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("statuses", Text),  # JSON list, NULL for all
    Column("advisories", Boolean, nullable=False),
    Column("state", String(10), nullable=False),  # active | failing | deleted
    Column("consecutive_failures", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("sealed", Text, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subscription_id", String(40), nullable=False),
    Column("customer_id", String(40), nullable=False),
    Column("item_id", String(13)),
    Column("event_type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(10), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("round_start", Integer, nullable=False),
    Column("next_attempt_at", String(32), nullable=False),
    Column("last_status", Integer),
    Column("last_error", String(200)),
    Column("created_at", String(32), nullable=False),
    Column("delivered_at", String(32)),
    # The lease of the worker sending the next attempt (not from the log: cleared when the
    # attempt is recorded, NULL after a rebuild; see SqlWebhooks.claim).
    Column("claimed_by", String(64)),
    Column("lease_until", String(32)),
    Index("ix_deliveries_due", "state", "next_attempt_at"),
    Index("ix_deliveries_subscription", "subscription_id", "created_at"),
)

# One row per delivery attempt, keyed by its webhook.delivery_attempted.v1 event (a log
# from before delivery leases may hold an attempt number twice: both are kept). No body.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("delivery_id", String(40), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("customer_id", String(40), nullable=False),
    Column("at", String(32), nullable=False),
    Column("status", Integer),  # HTTP status, NULL when no answer
    Column("error", String(200)),  # an error class (http_status, ConnectTimeout…), never a body
    Column("duration_ms", Integer),  # NULL for attempts recorded before it was measured
    Index("ix_attempts_delivery", "delivery_id", "attempt"),
    Index("ix_attempts_at", "at"),  # /metrics: attempts of the last hour (http.metrics)
)

TRACKING_OPS_TABLES = (
    partners,
    partner_event_keys,
    partner_quarantine,
    webhook_subscriptions,
    webhook_deliveries,
    webhook_attempts,
)
