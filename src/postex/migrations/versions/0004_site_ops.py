"""Site operations: staff users, item handling, receptacles, despatches, despatch messages.

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("username", sa.String(40), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("site", sa.String(16)),
        sa.Column("password_hash", sa.Text),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "item_handling",
        sa.Column("item_id", sa.String(13), primary_key=True),
        sa.Column("site", sa.String(16), nullable=False),
        sa.Column("accepted_at", sa.String(32), nullable=False),
        sa.Column("measured_g", sa.Integer, nullable=False),
        sa.Column("receptacle_id", sa.String(40)),
        sa.Column("despatch_id", sa.String(20)),
        sa.Column("carrier_status", sa.String(4)),
    )
    op.create_index("ix_item_handling_receptacle", "item_handling", ["receptacle_id"])
    op.create_index("ix_item_handling_despatch", "item_handling", ["despatch_id"])
    op.create_table(
        "receptacles",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("site", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(6), nullable=False),
        sa.Column("category", sa.String(1), nullable=False),
        sa.Column("subclass", sa.String(2), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.String(32), nullable=False),
        sa.Column("closed_at", sa.String(32)),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("content_g", sa.Integer, nullable=False),
        sa.Column("gross_weight_g", sa.Integer),
        sa.Column("year_digit", sa.Integer),
        sa.Column("despatch_serial", sa.Integer),
        sa.Column("receptacle_serial", sa.Integer),
        sa.Column("s9", sa.String(29), unique=True),
        sa.Column("despatch_id", sa.String(20)),
        sa.Column("carrier_status", sa.String(4)),
    )
    op.create_index("ix_receptacles_site_state", "receptacles", ["site", "state"])
    op.create_index("ix_receptacles_despatch", "receptacles", ["despatch_id"])
    op.create_table(
        "despatches",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("site", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(6), nullable=False),
        sa.Column("category", sa.String(1), nullable=False),
        sa.Column("subclass", sa.String(2), nullable=False),
        sa.Column("year_digit", sa.Integer, nullable=False),
        sa.Column("serial", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("form", sa.String(4), nullable=False),
        sa.Column("composed_at", sa.String(32), nullable=False),
        sa.Column("closed_at", sa.String(32)),
        sa.Column("carrier", sa.String(3)),
        sa.Column("flight", sa.String(8)),
        sa.Column("flight_date", sa.String(10)),
        sa.Column("handed_over_at", sa.String(32)),
        sa.Column("receptacle_count", sa.Integer, nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("gross_weight_g", sa.Integer, nullable=False),
        sa.Column("custody_at", sa.String(40)),
        sa.Column("delivered_at", sa.String(40)),
    )
    op.create_index(
        "ix_despatches_series",
        "despatches",
        ["site", "destination", "category", "subclass", "year_digit", "serial"],
        unique=True,
    )
    op.create_table(
        "despatch_messages",
        sa.Column("despatch_id", sa.String(20), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("part", sa.String(4), primary_key=True),
        sa.Column("customer_id", sa.String(40)),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("sealed", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    for table in ("despatch_messages", "despatches", "receptacles", "item_handling", "staff_users"):
        op.drop_table(table)
