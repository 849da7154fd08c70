"""Staff administration: disabled users and last sign-in (a projection), the last TOTP
step accepted per user (operational), and when a name last failed to sign in.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_status",
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("disabled_at", sa.String(32)),
        sa.Column("disabled_reason", sa.Text, nullable=False),
        sa.Column("last_sign_in_at", sa.String(32)),
    )
    op.create_table(
        "staff_totp_steps",
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("last_step", sa.BigInteger, nullable=False),
    )
    with op.batch_alter_table("staff_sign_in_throttle") as batch:
        batch.add_column(
            sa.Column("last_failure", sa.BigInteger, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_sign_in_throttle") as batch:
        batch.drop_column("last_failure")
    op.drop_table("staff_totp_steps")
    op.drop_table("staff_status")
