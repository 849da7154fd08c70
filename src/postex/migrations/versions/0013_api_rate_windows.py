"""Customer API: rate-limit windows shared by every server process.

Revision ID: 0013
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_rate_windows",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("window_index", sa.BigInteger, nullable=False),
        sa.Column("previous_hits", sa.Integer, nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
        sa.Column("allowed", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("api_rate_windows")
