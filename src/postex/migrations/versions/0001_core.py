"""Core: the event log, checkpoints, data keys, heads, customers, items, serials, tracking.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("type", sa.String(80), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("signed_at", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
    )
    op.create_table(
        "data_keys",
        sa.Column("customer_id", sa.String(40), primary_key=True),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "heads",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("erased_at", sa.String(32)),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.String(13), primary_key=True),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("origin_site", sa.String(16), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("held_from", sa.String(20)),
        sa.Column("destination", sa.String(2), nullable=False),
        sa.Column("customs_form", sa.String(4)),
        sa.Column("has_goods", sa.Boolean, nullable=False),
        sa.Column("weight_g", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("advice_seq", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,  # small rows clustered on the S10 id: one b-tree, not two
    )
    op.create_index("ix_items_customer_created", "items", ["customer_id", "created_at", "id"])
    op.create_table(
        "serials",
        sa.Column("prefix", sa.String(2), primary_key=True),
        sa.Column("last_serial", sa.Integer, nullable=False),
    )
    op.create_table(
        "tracking_events",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("item_id", sa.String(13), primary_key=True),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("occurred_at", sa.String(40), nullable=False),
        sa.Column("occurred_utc", sa.String(32), nullable=False),
        sa.Column("office", sa.String(16)),
        sa.Column("reason", sa.String(8)),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_index("ix_tracking_item_time", "tracking_events", ["item_id", "occurred_utc"])


def downgrade() -> None:
    for table in (
        "tracking_events",
        "serials",
        "items",
        "customers",
        "heads",
        "data_keys",
        "checkpoints",
        "events",
    ):
        op.drop_table(table)
