"""One item, several logs: each item's version and the logs waiting on a dependency.

``items`` gains the version of the item (the last event applied to it: log, seq, hash),
recorded as ``saw`` by the events that change it; ``log_waits`` holds the logs whose
projection waits for an event they depend on (docs/log-format.md, "Rules across logs").
Both are projections: ``postex rebuild`` fills them.

Revision ID: 0045
Revises: 0030 (any head past 0001, which made items)
"""

import sqlalchemy as sa
from alembic import op

revision = "0045"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: items projected before versions were kept (changes record no saw for them).
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("version_site", sa.String(16), nullable=True))
        batch.add_column(sa.Column("version_seq", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("version_hash", sa.LargeBinary(32), nullable=True))
    op.create_table(
        "log_waits",
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("projected_seq", sa.BigInteger, nullable=False),
        sa.Column("on_site", sa.String(16), nullable=False),
        sa.Column("on_seq", sa.BigInteger, nullable=False),
        sa.Column("on_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("found_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("since", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("log_waits")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("version_hash")
        batch.drop_column("version_seq")
        batch.drop_column("version_site")
