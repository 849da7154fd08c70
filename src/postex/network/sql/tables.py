"""Replication bookkeeping tables: cursors, site reports, witnesses, alarms, key copies.

None of these tables is a projection: they record what the transport and the hub did,
not what the log says, so ``postex rebuild`` leaves them alone. A site's acknowledged
seq lives in its own store; the hub keeps reports, witnesses, alarms and the sites'
wrapped data keys (useless without the sites' key-encryption key), its arrival journal,
and every node its recorded role.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Integer, LargeBinary, String, Table, Text

from postex.eventlog.sql.schema import metadata

replication_cursors = Table(
    "replication_cursors",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("acked_seq", BigInteger, nullable=False),
    Column("acked_at", String(32), nullable=False),
)

replication_reports = Table(
    "replication_reports",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("head_seq", BigInteger, nullable=False),
    Column("acked_seq", BigInteger, nullable=False),
    Column("reported_at", String(32), nullable=False),
)

witnesses = Table(
    "witnesses",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("witnessed_at", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
)

integrity_alarms = Table(
    "integrity_alarms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(16), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("raised_at", String(32), nullable=False),
    Column("cleared_at", String(32)),
    Column("cleared_reason", Text),
)

hub_data_keys = Table(
    "hub_data_keys",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("customer_id", String(40), primary_key=True),
    Column("kek_id", String(64), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", String(32), nullable=False),
)

verifications = Table(
    "verifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("events_checked", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),
)

# The hub's arrival journal: one row per run of events stored, in the order they were
# stored (and so projected). ``postex rebuild`` on a hub replays in this order, so it gives
# the live tables even where sites' events meet in one projection (a partner scan at one
# site of an item issued at another).
hub_arrivals = Table(
    "hub_arrivals",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("site", String(16), nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
)

# The node's role, recorded when the database is initialised or first started (one row).
node_role = Table(
    "node_role",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("role", String(8), nullable=False),
    Column("site", String(16), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("previous_role", String(8)),
)

TABLES = (
    replication_cursors,
    replication_reports,
    witnesses,
    integrity_alarms,
    hub_data_keys,
    verifications,
    hub_arrivals,
    node_role,
)
