"""Sender portal: customer users (argon2id hashes, outside the log) and the customer a
console-store session belongs to; each account's CSV column mapping.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_users",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("username", sa.String(40), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Index("ix_customer_users_customer", "customer_id"),
    )
    with op.batch_alter_table("staff_sessions") as batch:
        batch.add_column(sa.Column("customer_id", sa.String(40)))
    op.create_table(
        "customer_column_mappings",
        sa.Column("customer_id", sa.String(40), primary_key=True),
        sa.Column("mapping", sa.Text, nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("customer_column_mappings")
    with op.batch_alter_table("staff_sessions") as batch:
        batch.drop_column("customer_id")
    op.drop_table("customer_users")
