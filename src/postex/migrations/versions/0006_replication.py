"""Replication: cursors, site reports, witnesses, integrity alarms, hub key copies.

Revision ID: 0006
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replication_cursors",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("acked_seq", sa.BigInteger, nullable=False),
        sa.Column("acked_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "replication_reports",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("head_seq", sa.BigInteger, nullable=False),
        sa.Column("acked_seq", sa.BigInteger, nullable=False),
        sa.Column("reported_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "witnesses",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("witnessed_at", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
    )
    op.create_table(
        "integrity_alarms",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("raised_at", sa.String(32), nullable=False),
        sa.Column("cleared_at", sa.String(32)),
        sa.Column("cleared_reason", sa.Text),
    )
    op.create_table(
        "hub_data_keys",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("customer_id", sa.String(40), primary_key=True),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("events_checked", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "verifications",
        "hub_data_keys",
        "integrity_alarms",
        "witnesses",
        "replication_reports",
        "replication_cursors",
    ):
        op.drop_table(name)
