"""Track and trace: partners, partner event keys and quarantine, webhooks.

Revision ID: 0005
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("offices", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "partner_event_keys",
        sa.Column("event_key", sa.String(80), primary_key=True),
        sa.Column("site", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "partner_quarantine",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("item_id", sa.String(13), nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("occurred_at", sa.String(40), nullable=False),
        sa.Column("occurred_utc", sa.String(32), nullable=False),
        sa.Column("office", sa.String(16)),
        sa.Column("reason", sa.String(8)),
        sa.Column("partner_id", sa.String(40), nullable=False),
        sa.Column("operators", sa.Text, nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
    )
    op.create_index("ix_quarantine_item", "partner_quarantine", ["item_id", "status"])
    op.create_index("ix_quarantine_status", "partner_quarantine", ["status", "received_at"])
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("statuses", sa.Text),
        sa.Column("advisories", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_webhook_subscriptions_customer_id", "webhook_subscriptions", ["customer_id"]
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("item_id", sa.String(13)),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("round_start", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.String(32), nullable=False),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.String(200)),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("delivered_at", sa.String(32)),
    )
    op.create_index("ix_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"])
    op.create_index(
        "ix_deliveries_subscription", "webhook_deliveries", ["subscription_id", "created_at"]
    )


def downgrade() -> None:
    for table in (
        "webhook_deliveries",
        "webhook_subscriptions",
        "partner_quarantine",
        "partner_event_keys",
        "partners",
    ):
        op.drop_table(table)
