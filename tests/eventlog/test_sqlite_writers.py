"""Writers of one process queue on a lock per SQLite file instead of in SQLite's busy
handler (which sleeps up to 100 ms between tries). The lock must never outlive the write
transaction, however it ends, or every later writer would wait for nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from postex.eventlog.sql.engine import _writer_lock, make_engine


def _engine(tmp_path: Path) -> tuple[Engine, threading.Lock]:
    db = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine, _writer_lock(str(db))


def _free(lock: threading.Lock) -> bool:
    if lock.acquire(blocking=False):
        lock.release()
        return True
    return False


def test_the_lock_is_held_for_the_write_transaction_only(tmp_path: Path) -> None:
    engine, lock = _engine(tmp_path)
    with engine.connect() as raw:
        conn = raw.execution_options(postex_write=True)
        with conn.begin():
            conn.execute(text("INSERT INTO t VALUES (1)"))
            assert not _free(lock)
        assert _free(lock)  # committed
        conn.begin()
        conn.execute(text("INSERT INTO t VALUES (2)"))
        conn.rollback()
        assert _free(lock)  # rolled back
        with pytest.raises(RuntimeError), conn.begin():
            raise RuntimeError("a use case fails mid-transaction")
        assert _free(lock)
    with engine.connect() as raw:  # closed with its transaction open
        raw.execution_options(postex_write=True).begin()
        assert not _free(lock)
    assert _free(lock)
    with engine.connect() as conn:  # readers never take it
        conn.begin()
        assert _free(lock)
        conn.rollback()
    engine.dispose()


def test_every_engine_on_the_file_shares_the_lock_and_writers_queue(tmp_path: Path) -> None:
    engine, lock = _engine(tmp_path)
    other = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with engine.connect() as raw, raw.execution_options(postex_write=True).begin() as tx:
            first_in.set()
            time.sleep(0.2)
            tx.connection.execute(text("INSERT INTO t VALUES (1)"))
            order.append("first")

    def second() -> None:
        first_in.wait()
        with other.connect() as raw, raw.execution_options(postex_write=True).begin() as tx:
            tx.connection.execute(text("INSERT INTO t VALUES (2)"))
            order.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert order == ["first", "second"] and _free(lock)
    with other.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2
    engine.dispose()
    other.dispose()
