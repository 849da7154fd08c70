"""An index on webhook_attempts(at): /metrics counts the last hour's attempts at every
scrape (postex_webhook_attempts_last_hour), which otherwise reads the whole table.

The table is made by 0009 on the tracking branch, which alembic may apply after this one
on a new database: there 0009 makes the index with the table, and this migration leaves
it be; on an existing database (0009 long applied) this migration makes it.

Revision ID: 0024
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("webhook_attempts"):
        op.create_index("ix_attempts_at", "webhook_attempts", ["at"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_attempts_at", table_name="webhook_attempts", if_exists=True)
