"""Incidents: export holds, held items, advisories and their updates, the audit trail.

Revision ID: 0007
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("network_wide", sa.Boolean, nullable=False),
        sa.Column("sites", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("advisory", sa.Text),
        sa.Column("advisory_id", sa.String(40)),
        sa.Column("customer_facing", sa.Boolean, nullable=False),
        sa.Column("starts_at", sa.String(32), nullable=False),
        sa.Column("placed_at", sa.String(32), nullable=False),
        sa.Column("placed_by", sa.Text, nullable=False),
        sa.Column("emergency", sa.Boolean, nullable=False),
        sa.Column("confirmed_at", sa.String(32)),
        sa.Column("confirmed_by", sa.String(40)),
        sa.Column("activated_at", sa.String(32)),
        sa.Column("released_at", sa.String(32)),
        sa.Column("release_request", sa.Text),
    )
    op.create_index("ix_holds_released", "holds", ["released_at"])
    op.create_table(
        "hold_items",
        sa.Column("hold_id", sa.String(40), primary_key=True),
        sa.Column("item_id", sa.String(13), primary_key=True),
        sa.Column("site", sa.String(16), nullable=False),
        sa.Column("held_from", sa.String(20), nullable=False),
        sa.Column("held_at", sa.String(32), nullable=False),
        sa.Column("released_at", sa.String(32)),
    )
    op.create_index("ix_hold_items_site_open", "hold_items", ["site", "released_at", "item_id"])
    op.create_index("ix_hold_items_item", "hold_items", ["item_id"])
    op.create_table(
        "advisories",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("hold_id", sa.String(40), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("starts_at", sa.String(32), nullable=False),
        sa.Column("published_at", sa.String(32), nullable=False),
        sa.Column("closed_at", sa.String(32)),
    )
    op.create_table(
        "advisory_updates",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("advisory_id", sa.String(40), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_advisory_updates_advisory_id", "advisory_updates", ["advisory_id"])
    op.create_table(
        "audit_log",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.String(80), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_time", "audit_log", ["recorded_at", "site", "seq"])
    op.create_index("ix_audit_actor", "audit_log", ["actor_id", "recorded_at"])
    op.create_index("ix_audit_action", "audit_log", ["action", "recorded_at"])
    op.create_index("ix_audit_target", "audit_log", ["target", "recorded_at"])


def downgrade() -> None:
    for table in ("audit_log", "advisory_updates", "advisories", "hold_items", "holds"):
        op.drop_table(table)
