"""An index on webhook_attempts(at): /metrics counts the last hour's attempts at every
scrape (postex_webhook_attempts_last_hour), which otherwise reads the whole table.

Revision ID: 0024
Revises: 0020, 0009 (webhook_attempts is made in 0009, on the tracking branch: this
migration joins the two, so alembic applies 0009 first and 0009 stops being a head)
"""

from alembic import op

revision = "0024"
down_revision = ("0020", "0009")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_attempts_at", "webhook_attempts", ["at"])


def downgrade() -> None:
    op.drop_index("ix_attempts_at", table_name="webhook_attempts")
