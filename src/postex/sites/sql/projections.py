"""Site operations: staff users, item handling, receptacles, despatches and their messages.

Projections only: every row here is rebuilt from the site logs by ``postex rebuild``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from postex.accounts.events import UserCreated
from postex.accounts.sql.staff_passwords import adopt_hashes
from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.fast import executemany
from postex.eventlog.sql.projections import projection
from postex.eventlog.sql.row_mac import row_mac
from postex.eventlog.sql.schema import metadata
from postex.items.sql.core import TRACKING_INSERT, set_state, tracking_row
from postex.sites.events import (
    DespatchCarrierReported,
    DespatchClosed,
    DespatchComposed,
    DespatchHandedOver,
    DespatchMessageWritten,
    DespatchReceptacleRemoved,
    ItemAccepted,
    ItemArrivedAtExchange,
    ItemReturnedToSender,
    ItemTransferReceived,
    ItemTransferredOut,
    ReceptacleClosed,
    ReceptacleItemRemoved,
    ReceptacleItemsAdded,
    ReceptacleOpened,
    ReceptacleReopened,
)
from postex.sites.sql.failover import abandoned_ids, moved_pairs, settle_late_items

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("username", String(40), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("site", String(16)),
    Column("created_at", String(32), nullable=False),
    Column("mac", LargeBinary(32)),  # row MAC of id, username, role, site (see row_mac)
)
STAFF_TABLE = "staff_users"
item_handling = Table(
    "item_handling",
    metadata,
    Column("item_id", String(13), primary_key=True),
    Column("site", String(16), nullable=False),
    Column("accepted_at", String(32), nullable=False),
    Column("measured_g", Integer, nullable=False),
    Column("receptacle_id", String(40)),
    Column("despatch_id", String(20)),
    Column("carrier_status", String(4)),
    Column("transfer_to", String(16)),  # the site it is travelling to (sent, not received)
    Index("ix_item_handling_receptacle", "receptacle_id"),
    Index("ix_item_handling_despatch", "despatch_id"),
)
receptacles = Table(
    "receptacles",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("site", String(16), nullable=False),
    Column("destination", String(6), nullable=False),
    Column("category", String(1), nullable=False),
    Column("subclass", String(2), nullable=False),
    Column("state", String(16), nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("closed_at", String(32)),
    Column("item_count", Integer, nullable=False),
    Column("content_g", Integer, nullable=False),
    Column("gross_weight_g", Integer),
    Column("year_digit", Integer),
    Column("despatch_serial", Integer),
    Column("receptacle_serial", Integer),
    Column("s9", String(29), unique=True),
    Column("despatch_id", String(20)),
    Column("carrier_status", String(4)),
    Index("ix_receptacles_site_state", "site", "state"),
    Index("ix_receptacles_despatch", "despatch_id"),
)
despatches = Table(
    "despatches",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("site", String(16), nullable=False),
    Column("destination", String(6), nullable=False),
    Column("category", String(1), nullable=False),
    Column("subclass", String(2), nullable=False),
    Column("year_digit", Integer, nullable=False),
    Column("serial", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("form", String(4), nullable=False),
    Column("composed_at", String(32), nullable=False),
    Column("closed_at", String(32)),
    Column("carrier", String(3)),
    Column("flight", String(8)),
    Column("flight_date", String(10)),
    Column("departs_at", String(32)),
    Column("handed_over_at", String(32)),
    Column("receptacle_count", Integer, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("gross_weight_g", Integer, nullable=False),
    Column("custody_at", String(40)),
    Column("delivered_at", String(40)),
    Index(
        "ix_despatches_series",
        "site",
        "destination",
        "category",
        "subclass",
        "year_digit",
        "serial",
        unique=True,
    ),
)
despatch_messages = Table(
    "despatch_messages",
    metadata,
    Column("despatch_id", String(20), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("part", String(4), primary_key=True),
    Column("customer_id", String(40)),
    Column("content", Text, nullable=False),
    Column("sealed", Boolean, nullable=False),
    Column("created_at", String(32), nullable=False),
)

site_p = projection(
    "site_ops", staff_users, item_handling, receptacles, despatches, despatch_messages
)


@site_p.on(UserCreated)
def _user_created(conn: Connection, events: Sequence[StoredEvent[UserCreated]]) -> None:
    executemany(
        conn,
        "INSERT INTO staff_users (id, username, role, site, created_at, mac)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (d.user_id, d.username, d.role, d.site, e.recorded_at,
             row_mac(conn, STAFF_TABLE, [d.user_id, d.username, d.role, d.site]))
            for e in events
            for d in (e.event,)
        ],
    )  # fmt: skip
    # Old logs: user.created.v1 carried the argon2id hash; it moves to the node's own table.
    adopt_hashes(conn, [(e.event.user_id, e.event.password_hash, e.recorded_at)
                        for e in events if e.event.password_hash])  # fmt: skip


def _moved(conn: Connection, events: Sequence[StoredEvent[Any]]) -> set[tuple[str, str]]:
    """(log, item) of events about items a failover moved away from that log: applied
    after the listing, they change nothing of the item (docs/log-format.md)."""
    return moved_pairs(conn, [(e.site, e.event.item_id) for e in events])


def _stays(moved: set[tuple[str, str]], e: StoredEvent[Any], item_id: str) -> bool:
    return (e.site, item_id) not in moved


@site_p.on(ItemAccepted)
def _accepted(conn: Connection, events: Sequence[StoredEvent[ItemAccepted]]) -> None:
    moved = _moved(conn, events)
    kept = [e for e in events if _stays(moved, e, e.event.item_id)]
    if len(kept) < len(events):
        settle_late_items(conn, [i for _, i in moved])
    set_state(conn, [("accepted", None, e.recorded_at, e.event.item_id) for e in kept])
    executemany(
        conn,
        "INSERT INTO item_handling (item_id, site, accepted_at, measured_g) VALUES (?, ?, ?, ?)",
        [(d.item_id, d.site, e.recorded_at, d.weight_g) for e in kept for d in (e.event,)],
    )
    executemany(
        conn,
        TRACKING_INSERT,
        [tracking_row(e, e.event.item_id, "EMA", e.event.site) for e in events],
    )


@site_p.on(ItemArrivedAtExchange)
def _at_exchange(conn: Connection, events: Sequence[StoredEvent[ItemArrivedAtExchange]]) -> None:
    executemany(
        conn,
        TRACKING_INSERT,
        [tracking_row(e, e.event.item_id, "EMB", e.event.site) for e in events],
    )


@site_p.on(ItemReturnedToSender)
def _returned(conn: Connection, events: Sequence[StoredEvent[ItemReturnedToSender]]) -> None:
    moved = _moved(conn, events)
    set_state(conn, [("returned", None, e.recorded_at, e.event.item_id) for e in events
                     if _stays(moved, e, e.event.item_id)])  # fmt: skip
    executemany(
        conn,
        TRACKING_INSERT,
        [tracking_row(e, e.event.item_id, "EXX", e.event.site) for e in events],
    )


@site_p.on(ItemTransferredOut)
def _transferred_out(conn: Connection, events: Sequence[StoredEvent[ItemTransferredOut]]) -> None:
    """The item leaves for another site (EMK here): no site bags it until it is received."""
    moved = _moved(conn, events)
    executemany(
        conn,
        "UPDATE item_handling SET transfer_to = ? WHERE item_id = ?",
        [(e.event.to_site, e.event.item_id) for e in events if _stays(moved, e, e.event.item_id)],
    )
    executemany(
        conn,
        TRACKING_INSERT,
        [tracking_row(e, e.event.item_id, "EMK", e.event.site) for e in events],
    )


@site_p.on(ItemTransferReceived)
def _transfer_received(
    conn: Connection, events: Sequence[StoredEvent[ItemTransferReceived]]
) -> None:
    """The item is at the receiving site now (EMB there): ``site`` is where it physically is."""
    moved = _moved(conn, events)
    executemany(
        conn,
        "UPDATE item_handling SET site = ?, transfer_to = NULL WHERE item_id = ?",
        [(e.event.site, e.event.item_id) for e in events if _stays(moved, e, e.event.item_id)],
    )
    executemany(
        conn,
        TRACKING_INSERT,
        [tracking_row(e, e.event.item_id, "EMB", e.event.site) for e in events],
    )


@site_p.on(ReceptacleOpened)
def _opened(conn: Connection, events: Sequence[StoredEvent[ReceptacleOpened]]) -> None:
    gone = abandoned_ids(conn, [e.event.receptacle_id for e in events])  # listed before
    executemany(
        conn,
        "INSERT INTO receptacles (id, site, destination, category, subclass,"
        " state, opened_at, item_count, content_g) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)",
        [
            (
                d.receptacle_id,
                d.site,
                d.destination,
                d.category,
                d.subclass,
                "abandoned" if d.receptacle_id in gone else "open",
                e.recorded_at,
            )
            for e in events
            for d in (e.event,)
        ],
    )


@site_p.on(ReceptacleItemsAdded)
def _added(conn: Connection, events: Sequence[StoredEvent[ReceptacleItemsAdded]]) -> None:
    moved = moved_pairs(conn, [(e.site, b.item_id) for e in events for b in e.event.bagged()])
    for e in events:
        d = e.event
        bagged = [b for b in d.bagged() if _stays(moved, e, b.item_id)]
        if not bagged:
            continue
        executemany(
            conn,
            "UPDATE item_handling SET receptacle_id = ? WHERE item_id = ?",
            [(d.receptacle_id, b.item_id) for b in bagged],
        )
        set_state(conn, [("in_receptacle", None, e.recorded_at, b.item_id) for b in bagged])
        executemany(
            conn,
            "UPDATE receptacles SET item_count = item_count + ?,"
            " content_g = content_g + ? WHERE id = ?",
            [(len(bagged), sum(b.weight_g for b in bagged), d.receptacle_id)],
        )


@site_p.on(ReceptacleItemRemoved)
def _removed(conn: Connection, events: Sequence[StoredEvent[ReceptacleItemRemoved]]) -> None:
    moved = _moved(conn, events)
    for e in events:
        d = e.event
        if not _stays(moved, e, d.item_id):
            continue
        executemany(
            conn,
            "UPDATE item_handling SET receptacle_id = NULL WHERE item_id = ?",
            [(d.item_id,)],
        )
        # A held item taken out stays held, and returns to "accepted" when released.
        state, held_from = ("held", "accepted") if d.held else ("accepted", None)
        set_state(conn, [(state, held_from, e.recorded_at, d.item_id)])
        executemany(
            conn,
            "UPDATE receptacles SET item_count = item_count - 1,"
            " content_g = content_g - ? WHERE id = ?",
            [(d.weight_g, d.receptacle_id)],
        )


@site_p.on(ReceptacleClosed)
def _closed(conn: Connection, events: Sequence[StoredEvent[ReceptacleClosed]]) -> None:
    executemany(
        conn,
        "UPDATE receptacles SET state = 'closed', closed_at = ?, s9 = ?,"
        " gross_weight_g = ?, year_digit = ?, despatch_serial = ?, receptacle_serial = ?"
        " WHERE id = ? AND state <> 'abandoned'",
        [
            (
                e.recorded_at,
                d.s9,
                d.gross_weight_g,
                d.year_digit,
                d.despatch_serial,
                d.receptacle_serial,
                d.receptacle_id,
            )
            for e in events
            for d in (e.event,)
        ],
    )


@site_p.on(ReceptacleReopened)
def _reopened(conn: Connection, events: Sequence[StoredEvent[ReceptacleReopened]]) -> None:
    executemany(
        conn,
        "UPDATE receptacles SET state = 'open', closed_at = NULL, s9 = NULL,"
        " gross_weight_g = NULL, year_digit = NULL, despatch_serial = NULL,"
        " receptacle_serial = NULL WHERE id = ? AND state <> 'abandoned'",
        [(e.event.receptacle_id,) for e in events],
    )


@site_p.on(DespatchComposed)
def _composed(conn: Connection, events: Sequence[StoredEvent[DespatchComposed]]) -> None:
    for e in events:
        d = e.event
        executemany(
            conn,
            "INSERT INTO despatches (id, site, destination, category, subclass,"
            " year_digit, serial, state, form, composed_at, receptacle_count, item_count,"
            " gross_weight_g) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)",
            [
                (
                    d.despatch_id,
                    d.site,
                    d.destination,
                    d.category,
                    d.subclass,
                    d.year_digit,
                    d.serial,
                    d.form,
                    e.recorded_at,
                    len(d.receptacle_ids),
                    d.item_count,
                    d.gross_weight_g,
                )
            ],
        )
        rows = [(d.despatch_id, r) for r in d.receptacle_ids]
        executemany(
            conn,
            "UPDATE receptacles SET state = CASE WHEN state = 'abandoned' THEN state"
            " ELSE 'in_despatch' END, despatch_id = ? WHERE id = ?",
            rows,
        )
        executemany(conn, "UPDATE item_handling SET despatch_id = ? WHERE receptacle_id = ?", rows)


@site_p.on(DespatchReceptacleRemoved)
def _taken_out(conn: Connection, events: Sequence[StoredEvent[DespatchReceptacleRemoved]]) -> None:
    for e in events:
        d = e.event
        executemany(
            conn,
            "UPDATE receptacles SET state = CASE WHEN state = 'abandoned' THEN state"
            " ELSE 'closed' END, despatch_id = NULL, s9 = ?,"
            " year_digit = ?, despatch_serial = ?, receptacle_serial = ? WHERE id = ?",
            [(d.s9, d.year_digit, d.despatch_serial, d.receptacle_serial, d.receptacle_id)],
        )
        executemany(
            conn,
            "UPDATE item_handling SET despatch_id = NULL WHERE receptacle_id = ?",
            [(d.receptacle_id,)],
        )
        executemany(
            conn,
            "UPDATE despatches SET receptacle_count = receptacle_count - 1,"
            " item_count = item_count - ?, gross_weight_g = gross_weight_g - ? WHERE id = ?",
            [(d.item_count, d.gross_weight_g, d.despatch_id)],
        )
        if d.cancelled:
            executemany(
                conn,
                "UPDATE despatches SET state = 'cancelled' WHERE id = ?",
                [(d.despatch_id,)],
            )


@site_p.on(DespatchMessageWritten)
def _message_written(
    conn: Connection, events: Sequence[StoredEvent[DespatchMessageWritten]]
) -> None:
    executemany(
        conn,
        "INSERT INTO despatch_messages (despatch_id, kind, part, customer_id,"
        " content, sealed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                d.despatch_id,
                d.kind,
                d.part,
                d.customer_id,
                d.content,
                d.sealed,
                e.recorded_at,
            )
            for e in events
            for d in (e.event,)
        ],
    )


@site_p.on(DespatchClosed)
def _despatch_closed(conn: Connection, events: Sequence[StoredEvent[DespatchClosed]]) -> None:
    for e in events:
        d = e.event
        executemany(
            conn,
            "UPDATE despatches SET state = 'closed', closed_at = ?, carrier = ?,"
            " flight = ?, flight_date = ?, departs_at = ? WHERE id = ?",
            [(e.recorded_at, d.carrier, d.flight, d.flight_date, d.departs_at, d.despatch_id)],
        )
        moved = moved_pairs(conn, [(e.site, i) for i in d.item_ids])
        set_state(conn, [("despatched", None, e.recorded_at, i) for i in d.item_ids
                         if _stays(moved, e, i)])  # fmt: skip


@site_p.on(DespatchHandedOver)
def _handed_over(conn: Connection, events: Sequence[StoredEvent[DespatchHandedOver]]) -> None:
    for e in events:
        d = e.event
        executemany(
            conn,
            "UPDATE despatches SET state = 'handed_over', handed_over_at = ?,"
            " carrier = ?, flight = ?, flight_date = ?, departs_at = ? WHERE id = ?",
            [(e.recorded_at, d.carrier, d.flight, d.flight_date, d.departs_at, d.despatch_id)],
        )
        moved = moved_pairs(conn, [(e.site, i) for i in d.item_ids])
        set_state(conn, [("in_transit", None, e.recorded_at, i) for i in d.item_ids
                         if _stays(moved, e, i)])  # fmt: skip
        executemany(conn, TRACKING_INSERT, [tracking_row(e, i, "EMC", d.site) for i in d.item_ids])


@site_p.on(DespatchCarrierReported)
def _carrier_reported(
    conn: Connection, events: Sequence[StoredEvent[DespatchCarrierReported]]
) -> None:
    for e in events:
        d = e.event
        executemany(
            conn,
            "UPDATE receptacles SET carrier_status = ? WHERE id = ?",
            [(d.code, d.receptacle_id)],
        )
        executemany(
            conn,
            "UPDATE item_handling SET carrier_status = ? WHERE receptacle_id = ?",
            [(d.code, d.receptacle_id)],
        )
        if d.code == "74":
            executemany(
                conn,
                "UPDATE despatches SET state = CASE WHEN state = 'handed_over'"
                " THEN 'in_custody' ELSE state END, custody_at = COALESCE(custody_at, ?)"
                " WHERE id = ?",
                [(d.occurred_at, d.despatch_id)],
            )
        else:
            executemany(
                conn,
                "UPDATE despatches SET state = 'delivered', delivered_at = ?"
                " WHERE id = ? AND NOT EXISTS (SELECT 1 FROM receptacles r WHERE"
                " r.despatch_id = despatches.id AND COALESCE(r.carrier_status, '')"
                " <> '21')",
                [(d.occurred_at, d.despatch_id)],
            )
