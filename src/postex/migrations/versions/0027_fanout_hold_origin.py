"""Holds remember the log they were placed in (fan-out: only that node activates them).

Revision ID: 0027
Revises: 0007 (the incidents branch, which made the holds table; 0020's branch has none)
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for holds placed before: they were placed in this node's own log.
    with op.batch_alter_table("holds") as batch:
        batch.add_column(sa.Column("origin_site", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("holds") as batch:
        batch.drop_column("origin_site")
