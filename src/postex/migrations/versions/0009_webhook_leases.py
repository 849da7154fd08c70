"""Track and trace: delivery leases, per-attempt delivery history, partner quarantine index.

Revision ID: 0009
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_deliveries", sa.Column("claimed_by", sa.String(64)))
    op.add_column("webhook_deliveries", sa.Column("lease_until", sa.String(32)))
    op.create_table(
        "webhook_attempts",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("delivery_id", sa.String(40), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("error", sa.String(200)),
        sa.Column("duration_ms", sa.Integer),
    )
    op.create_index("ix_attempts_delivery", "webhook_attempts", ["delivery_id", "attempt"])
    # Added with 0024 (which makes it on databases that had this migration already).
    op.create_index("ix_attempts_at", "webhook_attempts", ["at"], if_not_exists=True)
    op.create_index("ix_quarantine_partner", "partner_quarantine", ["partner_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_partner", table_name="partner_quarantine")
    op.drop_table("webhook_attempts")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
