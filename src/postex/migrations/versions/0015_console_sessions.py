"""Staff console: sessions and sign-in throttling (operational state), TOTP enrolments.

Revision ID: 0015
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id_sha256", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("username", sa.String(40), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("site", sa.String(16)),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("pending_totp", sa.String(64)),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("refused", sa.Integer, nullable=False),
        sa.Column("held", sa.Integer, nullable=False),
        sa.Index("ix_staff_sessions_user", "user_id"),
    )
    op.create_table(
        "staff_sign_in_throttle",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "staff_totp",
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("sealed_secret", sa.Text, nullable=False),
        sa.Column("recovery_sha256", sa.Text, nullable=False),
        sa.Column("enrolled_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    for table in ("staff_totp", "staff_sign_in_throttle", "staff_sessions"):
        op.drop_table(table)
