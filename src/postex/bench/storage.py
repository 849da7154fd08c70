"""What the benchmarks do to a database besides the real code path: flush it to disk between
timed phases, and write ready-made event rows with the append's own batch insert."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from postex.eventlog.sql.engine import is_postgres, write_connection
from postex.eventlog.sql.fast import insert_event_batch

# (site, first seq, recorded_at…, type…, body…, prev_hash…, hash…) of consecutive events
EventBatch = tuple[str, int, list[str], list[str], list[bytes], list[bytes], list[bytes]]


def flush_to_disk(engine: Engine) -> None:
    """Write everything committed into the database files now: SQLite checkpoints its
    WAL (RESTART: the next write starts over at the head of the WAL file, as in
    steady operation), PostgreSQL runs CHECKPOINT. Benchmarks end each timed phase with it,
    so no phase leaves the cost of writing its pages to the next."""
    with engine.connect() as conn:
        if is_postgres(engine):
            conn.exec_driver_sql("CHECKPOINT")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)")


def copy_event_batches(engine: Engine, table: str, batches: Sequence[EventBatch]) -> None:
    """Write ready-made event rows to ``table`` (a name from code) with the append's own
    batch insert, one transaction per batch and nothing else: a benchmark's baseline."""
    with write_connection(engine) as conn:
        for batch in batches:
            conn.begin()
            insert_event_batch(conn, *batch, table=table)
            conn.commit()
