"""Each site's Merkle tree (full subtree hashes at the levels 8, 16, 24 …: tiles), its signed
tree heads (C2SP checkpoint notes) and their witness cosignatures.

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
    # Each table only if missing: a store stamped back below this revision (a test of an
    # older migration does it) upgrades again without error; the backfill writes only
    # what is missing.
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "merkle_nodes" not in existing:
        _create_tree_tables()
    from postex.eventlog.sql.tree import backfill

    conn = op.get_bind()
    for (site,) in conn.exec_driver_sql("SELECT DISTINCT site FROM events").all():
        backfill(conn, site)


def _create_tree_tables() -> None:
    op.create_table(
        "merkle_nodes",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "tree_notes",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("signed_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "tree_cosignatures",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("witness", sa.String(200), primary_key=True),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("cosigned_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tree_cosignatures")
    op.drop_table("tree_notes")
    op.drop_table("merkle_nodes")
