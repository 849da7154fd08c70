"""Batched statements straight through the DB-API cursor (the append hot path).

SQL is written with ``?`` placeholders and translated for psycopg; no statement here may
contain a literal question mark. Table and column names come from code, never from input.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import accumulate, repeat
from typing import Any

import orjson
from sqlalchemy import Connection


def _sql(conn: Connection, sql: str) -> str:
    return sql.replace("?", "%s") if conn.dialect.name == "postgresql" else sql


def executemany(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    cur = conn.connection.cursor()
    try:
        cur.executemany(_sql(conn, sql), rows)
    finally:
        cur.close()


def execute(conn: Connection, sql: str, params: Sequence[Any] = ()) -> None:
    """One statement straight through the DB-API cursor (no result)."""
    cur = conn.connection.cursor()
    try:
        cur.execute(_sql(conn, sql), tuple(params))
    finally:
        cur.close()


def fetchall(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cur = conn.connection.cursor()
    try:
        cur.execute(_sql(conn, sql), tuple(params))
        return [tuple(r) for r in cur.fetchall()]
    finally:
        cur.close()


def insert_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    pg_types: Sequence[str] | None = None,
) -> None:
    """Plain inserts of many rows: COPY on PostgreSQL, executemany on SQLite.

    With ``pg_types`` (PostgreSQL type names, one per column, exactly the columns' types)
    the COPY is binary: bytea and numbers travel as they are, with no text escaping — for
    the log's bodies and hashes several times less work on the client.
    """
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        binary = pg_types is not None
        cur = conn.connection.cursor()
        try:
            fmt = " (FORMAT BINARY)" if binary else ""
            with cur.copy(f"COPY {table} ({names}) FROM STDIN{fmt}") as copy:
                if pg_types is not None:
                    copy.set_types(list(pg_types))
                for row in rows:
                    copy.write_row(row)
        finally:
            cur.close()
        return
    marks = ", ".join("?" * len(columns))
    executemany(conn, f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


# One statement inserts a whole batch of events on SQLite: the bodies and hashes travel as
# three BLOB parameters (concatenated), and a small JSON array gives each row's body offset,
# length, type and time. Unlike ``executemany`` (which binds and steps row by row, taking
# the interpreter lock for each), the whole batch is written by SQLite's C code in a single
# step, the way COPY does it on PostgreSQL. Rows come back byte for byte (``substr`` on a
# BLOB counts bytes and yields a BLOB); a contract test compares them.
_SQLITE_EVENT_BATCH = (
    "INSERT INTO {table} (site, seq, recorded_at, type, body, prev_hash, hash)"
    " SELECT ?1, ?2 + j.key, j.value ->> 3, j.value ->> 2,"
    " substr(?3, j.value ->> 0, j.value ->> 1), substr(?4, j.key * 32 + 1, 32),"
    " substr(?5, j.key * 32 + 1, 32)"
    " FROM json_each(?6) AS j"
)
# json_each and the ->> operator: SQLite 3.38 (2022). Older libraries take executemany.
PACKED_INSERTS = sqlite3.sqlite_version_info >= (3, 38, 0)
HASH_SIZE = 32
EVENT_COLUMN_NAMES = ("site", "seq", "recorded_at", "type", "body", "prev_hash", "hash")
EVENT_PG_TYPES = ("varchar", "int8", "varchar", "varchar", "bytea", "bytea", "bytea")


def insert_event_batch(
    conn: Connection,
    site: str,
    first_seq: int,
    recorded_ats: Sequence[str],
    types: Sequence[str],
    bodies: Sequence[bytes],
    prev_hashes: Sequence[bytes],
    hashes: Sequence[bytes],
    table: str = "events",
) -> None:
    """Insert consecutive events ``first_seq, first_seq + 1, …`` of one site.

    ``table`` is a name from code (the benchmark writes the same rows to a bare table).
    """
    n = len(bodies)
    if not n:
        return
    if (
        conn.dialect.name == "sqlite"
        and PACKED_INSERTS
        and n > 1
        and len(recorded_ats) == len(types) == len(prev_hashes) == len(hashes) == n
        and set(map(len, prev_hashes)) == {HASH_SIZE}
        and set(map(len, hashes)) == {HASH_SIZE}
    ):
        lengths = list(map(len, bodies))
        starts = list(accumulate(lengths, initial=1))
        meta = orjson.dumps(list(zip(starts, lengths, types, recorded_ats, strict=False)))
        cur = conn.connection.cursor()
        try:
            cur.execute(
                _SQLITE_EVENT_BATCH.format(table=table),
                (site, first_seq, b"".join(bodies), b"".join(prev_hashes), b"".join(hashes), meta),
            )
            if cur.rowcount != n:
                raise RuntimeError(f"batch insert wrote {cur.rowcount} of {n} events")
        finally:
            cur.close()
        return
    seqs = range(first_seq, first_seq + n)
    rows = list(zip(repeat(site), seqs, recorded_ats, types, bodies, prev_hashes, hashes))
    insert_rows(conn, table, EVENT_COLUMN_NAMES, rows, EVENT_PG_TYPES)
