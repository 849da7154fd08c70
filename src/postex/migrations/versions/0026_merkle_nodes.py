"""Each site's Merkle tree: the full subtree hashes at the levels 8, 16, 24 … (tiles).

Existing logs are backfilled here (one pass over each site's event hashes).

Revision ID: 0026
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merkle_nodes",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    from postex.eventlog.sql.tree import backfill

    conn = op.get_bind()
    for (site,) in conn.exec_driver_sql("SELECT DISTINCT site FROM events").all():
        backfill(conn, site)


def downgrade() -> None:
    op.drop_table("merkle_nodes")
