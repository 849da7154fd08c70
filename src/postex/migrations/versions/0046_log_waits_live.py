"""A node's own log that waits (after a restore, until the other logs arrive) and that it
writes to meanwhile: ``log_waits.live_from`` is the first seq it projected live, so that
releasing the log projects only the events before it, once.

Revision ID: 0046
Revises: 0045
"""

import sqlalchemy as sa
from alembic import op

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_waits") as batch:
        batch.add_column(sa.Column("live_from", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_waits") as batch:
        batch.drop_column("live_from")
