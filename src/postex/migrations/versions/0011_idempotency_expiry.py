"""Customer API: index idempotent answers by time, for purging expired ones.

Revision ID: 0011
Revises: 0003
"""

from alembic import op

revision = "0011"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_idempotency_answers_created_at", "idempotency_answers", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_answers_created_at", table_name="idempotency_answers")
