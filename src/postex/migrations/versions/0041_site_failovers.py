"""Failover and failback of a lost site: requests, failovers in force, moved items and
abandoned receptacles (projections of the site.failover_* and site.failback_* events).

Revision ID: 0041
Revises: 0030 (item_handling.transfer_to)
"""

import sqlalchemy as sa
from alembic import op

revision = "0041"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_failovers",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("from_site", sa.String(16), nullable=False),
        sa.Column("to_site", sa.String(16)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("requested_at", sa.String(32), nullable=False),
        sa.Column("origin_site", sa.String(16), nullable=False),
        sa.Column("confirmed_by", sa.Text),
        sa.Column("confirmed_at", sa.String(32)),
        sa.Column("ended_at", sa.String(32)),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("receptacle_count", sa.Integer, nullable=False),
    )
    op.create_index("ix_site_failovers_requested", "site_failovers", ["requested_at"])
    op.create_table(
        "active_failovers",
        sa.Column("from_site", sa.String(16), primary_key=True),
        sa.Column("to_site", sa.String(16), nullable=False),
        sa.Column("failover_id", sa.String(40), nullable=False),
        sa.Column("since", sa.String(32), nullable=False),
    )
    op.create_table(
        "failover_moves",
        sa.Column("failover_id", sa.String(40), primary_key=True),
        sa.Column("item_id", sa.String(13), primary_key=True),
        sa.Column("from_site", sa.String(16), nullable=False),
        sa.Column("to_site", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("moved_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_failover_moves_item", "failover_moves", ["item_id", "from_site"])
    op.create_table(
        "abandoned_receptacles",
        sa.Column("receptacle_id", sa.String(40), primary_key=True),
        sa.Column("site", sa.String(16), nullable=False),
        sa.Column("failover_id", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("abandoned_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("abandoned_receptacles")
    op.drop_index("ix_failover_moves_item", "failover_moves")
    op.drop_table("failover_moves")
    op.drop_table("active_failovers")
    op.drop_index("ix_site_failovers_requested", "site_failovers")
    op.drop_table("site_failovers")
