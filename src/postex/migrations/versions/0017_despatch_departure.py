"""A despatch's scheduled departure time (CARDIT's departure), as given at close or handover.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("despatches") as batch:
        batch.add_column(sa.Column("departs_at", sa.String(32)))


def downgrade() -> None:
    with op.batch_alter_table("despatches") as batch:
        batch.drop_column("departs_at")
