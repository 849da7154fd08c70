"""Tables. The log and key tables are the store's own; the rest are projections.

Every feature module declares its tables on this ``metadata``; Alembic migrations in
``migrations/versions`` create them (one revision per feature, all branching from 0001).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# --- the log: never a projection, never rebuilt ---------------------------------------
events = Table(
    "events",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("recorded_at", String(32), nullable=False),
    Column("type", String(80), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("signed_at", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
)

# Wrapped per-customer data keys: outside the log so erasure can destroy them.
data_keys = Table(
    "data_keys",
    metadata,
    Column("customer_id", String(40), primary_key=True),
    Column("kek_id", String(64), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", String(32), nullable=False),
)

# The authenticated head of each site: (seq, hash) MAC'd under the site's log key, which
# lives outside the database (postex.eventlog.authlog). Not a projection: rebuild keeps it.
log_heads = Table(
    "log_heads",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("mac", LargeBinary(32), nullable=False),
)

# Each site's Merkle tree (postex.eventlog.sql.tree): the hash of every full subtree at the
# levels 8, 16, 24 …, written with the events that complete it. Derived from the log, but
# kept (not a projection): `postex rebuild` only fills in what is missing.
merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# Signed tree heads (C2SP tlog-checkpoint notes, postex.eventlog.notes): the site's signed
# note at each checkpoint, and the witness cosignature lines it was given.
tree_notes = Table(
    "tree_notes",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("signed_at", String(32), nullable=False),
)

tree_cosignatures = Table(
    "tree_cosignatures",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness", String(200), primary_key=True),
    Column("root", LargeBinary(32), nullable=False),
    Column("line", Text, nullable=False),
    Column("cosigned_at", String(32), nullable=False),
)

# --- projections: recreated from the log by `postex rebuild` ---------------------------
# Logs whose projection waits for an event another log depends on: projected through
# ``projected_seq``; the next event saw (on_site, on_seq, on_hash) and that event is not
# applied here yet, or (``found_hash`` set) it is applied with another hash. No row: the
# log is projected through its head. Rebuilt with the projections.
log_waits = Table(
    "log_waits",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("projected_seq", BigInteger, nullable=False),
    Column("on_site", String(16), nullable=False),
    Column("on_seq", BigInteger, nullable=False),
    Column("on_hash", LargeBinary(32), nullable=False),
    Column("found_hash", LargeBinary(32)),
    Column("since", String(32), nullable=False),
    Column("live_from", BigInteger),  # own log: the first seq projected live while waiting
)

heads = Table(
    "heads",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("recorded_at", String(32), nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("erased_at", String(32)),
)

items = Table(
    "items",
    metadata,
    Column("id", String(13), primary_key=True),
    Column("customer_id", String(40), nullable=False),
    Column("origin_site", String(16), nullable=False),
    Column("service", String(32), nullable=False),
    Column("state", String(20), nullable=False),
    Column("held_from", String(20)),
    Column("destination", String(2), nullable=False),
    Column("customs_form", String(4)),
    Column("has_goods", Boolean, nullable=False),
    Column("weight_g", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    # The sealed personal data stays in the pre-advice event; the row points at it.
    Column("advice_seq", BigInteger, nullable=False),
    # The item's version: the last event applied to it here (log, seq, hash); a change
    # written here records it as ``saw`` (docs/log-format.md, "Rules across logs").
    Column("version_site", String(16)),
    Column("version_seq", BigInteger),
    Column("version_hash", LargeBinary(32)),
    Index("ix_items_customer_created", "customer_id", "created_at", "id"),
    sqlite_with_rowid=False,  # small rows clustered on the S10 id: one b-tree, not two
)

serials = Table(
    "serials",
    metadata,
    Column("prefix", String(2), primary_key=True),
    Column("last_serial", Integer, nullable=False),
)

tracking_events = Table(
    "tracking_events",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("item_id", String(13), primary_key=True),
    Column("code", String(8), nullable=False),
    Column("occurred_at", String(40), nullable=False),  # local time with its offset
    Column("occurred_utc", String(32), nullable=False),  # for ordering
    Column("office", String(16)),
    Column("reason", String(8)),
    Column("source", String(16), nullable=False),  # site | partner
    Index("ix_tracking_item_time", "item_id", "occurred_utc"),
)

LOG_TABLES = (
    events,
    checkpoints,
    data_keys,
    log_heads,
    merkle_nodes,
    tree_notes,
    tree_cosignatures,
)
