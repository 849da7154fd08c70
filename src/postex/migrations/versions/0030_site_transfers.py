"""Items travel between sites: item_handling remembers where an item is being sent.

Revision ID: 0030
Revises: 0026 (any head past 0004, which made item_handling)
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: not travelling. Rows from before were never transferred.
    with op.batch_alter_table("item_handling") as batch:
        batch.add_column(sa.Column("transfer_to", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item_handling") as batch:
        batch.drop_column("transfer_to")
