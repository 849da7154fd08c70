"""Staff password hashes leave the projections for the node-local ``staff_passwords``;
credentials, staff users and console sessions carry a row MAC (and credentials their
staff user's disabled state). Rows written before have no MAC: ``postex init`` (build
with create) rebuilds the projections from the authenticated log once, which writes them.

Revision ID: 0022
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_passwords",
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("set_at", sa.String(32), nullable=False),
    )
    op.execute(
        "INSERT INTO staff_passwords (user_id, password_hash, set_at) "
        "SELECT id, password_hash, created_at FROM staff_users WHERE password_hash IS NOT NULL"
    )
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("password_hash")
        batch.add_column(sa.Column("mac", sa.LargeBinary(32)))
    with op.batch_alter_table("credentials") as batch:
        batch.add_column(sa.Column("disabled", sa.Boolean, nullable=False, server_default="0"))
        batch.add_column(sa.Column("mac", sa.LargeBinary(32)))
    # Sessions are operational state: the ones open now have no MAC and end (sign in again).
    with op.batch_alter_table("staff_sessions") as batch:
        batch.add_column(sa.Column("mac", sa.LargeBinary(32)))


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions") as batch:
        batch.drop_column("mac")
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("mac")
        batch.drop_column("disabled")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("mac")
        batch.add_column(sa.Column("password_hash", sa.Text))
    op.execute(
        "UPDATE staff_users SET password_hash = "
        "(SELECT password_hash FROM staff_passwords WHERE user_id = staff_users.id)"
    )
    op.drop_table("staff_passwords")
