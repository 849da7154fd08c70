"""Row MACs: projection rows that grant access are trusted only if the projection wrote them.

A projection is a cache of the log, and the log is authenticated (:mod:`postex.eventlog.
authlog`); but a row written straight into a projection table (an SQL console, a stolen
database password) would be believed until the next rebuild. The rows that say who may do
what (``credentials``, ``staff_users``) therefore carry a ``mac`` column:

``mac = HMAC-SHA256(row key, L("postex-row-v1") ‖ L(table) ‖ L(field 1) ‖ … ‖ L(field n))``

(``L``: 4-byte big-endian length, then the UTF-8 bytes; None is written as a single 0xff
byte, which no UTF-8 text is). The *row key* is the node's 32-byte ``rows.json`` in the
key directory (beside the site log keys, never in the database or a backup), so only a
process holding that key writes a row that checks. The composition root puts a
:class:`RowGuard` on the engine (execution option :data:`ROW_GUARD_OPTION`); the
projection handlers MAC what they write and the repositories check what they read,
refusing a row that does not check and telling the guard (an integrity alarm and one log
line, never the row's secrets).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

ROW_GUARD_OPTION = "postex_row_guard"
DOMAIN = b"postex-row-v1"
_NONE = b"\xff"

Field = str | int | bytes | bool | None


def _l(raw: bytes) -> bytes:
    return struct.pack(">I", len(raw)) + raw


def _raw(value: Field) -> bytes:
    if value is None:
        return _NONE
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"1" if value else b"0"
    return str(value).encode()


def row_message(table: str, fields: Sequence[Field]) -> bytes:
    """The MAC'd bytes of a row: the domain, the table's name, then each field."""
    return b"".join([_l(DOMAIN), _l(table.encode()), *(_l(_raw(f)) for f in fields)])


@dataclass(frozen=True)
class RowGuard:
    """The row key and what to do when a row does not check: ``on_fault(table, row id,
    in_write)``, ``in_write`` telling it the row was read inside a write transaction (where
    an alarm written by another connection would wait for this one to end)."""

    key: bytes
    on_fault: Callable[[str, str, bool], None]

    def mac(self, table: str, fields: Sequence[Field]) -> bytes:
        return hmac.new(self.key, row_message(table, fields), hashlib.sha256).digest()

    def valid(self, table: str, fields: Sequence[Field], mac: bytes | None) -> bool:
        return mac is not None and hmac.compare_digest(self.mac(table, fields), bytes(mac))


def guard_of(conn: Connection) -> RowGuard | None:
    """The engine's row guard; None on a store opened without keys (read-only sources)."""
    found = conn.get_execution_options().get(ROW_GUARD_OPTION)
    return found if isinstance(found, RowGuard) else None


def row_mac(conn: Connection, table: str, fields: Sequence[Field]) -> bytes | None:
    """The MAC a projection writes with a row (None without a guard: the row never checks)."""
    guard = guard_of(conn)
    return guard.mac(table, fields) if guard else None


def row_checks(conn: Connection, table: str, row_id: str, fields: Sequence[Field],
               mac: bytes | None) -> bool:  # fmt: skip
    """Whether a row read back was written by a projection holding the key; a row that does
    not check is reported to the guard. Without a guard nothing checks."""
    guard = guard_of(conn)
    if guard is None:
        return False
    if guard.valid(table, fields, mac):
        return True
    guard.on_fault(table, row_id, bool(conn.get_execution_options().get("postex_write")))
    return False
