"""Hub arrival journal: the order the hub stored (and projected) its copies, for rebuild.

Revision ID: 0012
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_arrivals",
        sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(16), nullable=False),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hub_arrivals")
