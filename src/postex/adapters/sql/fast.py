"""Batched statements straight through the DB-API cursor (the append hot path).

SQL is written with ``?`` placeholders and translated for psycopg; no statement here may
contain a literal question mark. Table and column names come from code, never from input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def fetchall(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cur = conn.connection.cursor()
    try:
        cur.execute(_sql(conn, sql), tuple(params))
        return [tuple(r) for r in cur.fetchall()]
    finally:
        cur.close()


def insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Plain inserts of many rows: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        cur = conn.connection.cursor()
        try:
            with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cur.close()
        return
    marks = ", ".join("?" * len(columns))
    executemany(conn, f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
