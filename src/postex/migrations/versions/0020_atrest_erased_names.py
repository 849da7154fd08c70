"""Erased customers' names leave the projections (customers, credentials).

Revision ID: 0020
Revises: 0019
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE customers SET name = '' WHERE erased_at IS NOT NULL")
    op.execute(
        "UPDATE credentials SET name = '' WHERE kind = 'customer' AND subject IN "
        "(SELECT id FROM customers WHERE erased_at IS NOT NULL)"
    )


def downgrade() -> None:
    pass  # an erased name does not come back
