"""Customer API: idempotent answers and the blind index of item references.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_answers",
        sa.Column("customer_id", sa.String(40), primary_key=True),
        sa.Column("key_sha256", sa.String(64), primary_key=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "item_references",
        sa.Column("item_id", sa.String(13), primary_key=True),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("reference_hmac", sa.String(64), nullable=False),
    )
    op.create_index(
        "ix_item_references_customer_ref", "item_references", ["customer_id", "reference_hmac"]
    )


def downgrade() -> None:
    op.drop_table("item_references")
    op.drop_table("idempotency_answers")
