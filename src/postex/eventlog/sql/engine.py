"""The database engine: URLs, connection settings, and driver errors at the boundary.

SQLite runs in WAL mode and starts write transactions with ``BEGIN IMMEDIATE`` (a
connection opened with the ``postex_write`` execution option), so a writer never has to
upgrade a read lock; PostgreSQL uses psycopg 3 with a pool.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.exc import DatabaseError as SQLAlchemyDatabaseError

from postex.kernel.errors import ConfigurationError, StoreUnreachableError, StoreUnreadableError
from postex.kernel.private import private_file

URL_HINT = "expected sqlite:///path/to/postex.db or postgresql://user@host:5432/database"
CHECK = (
    "check the URL (--db or POSTEX_DB_URL), that the database server is running and "
    "reachable from here, and that it accepts this user"
)


def shown_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    try:
        shown = make_url(normalise_url(url)).render_as_string(hide_password=True)
        return shown.replace("postgresql+psycopg://", "postgresql://", 1)
    except ArgumentError:
        return "(not a database URL)"


def _first_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    return (str(inner).strip().splitlines() or [type(inner).__name__])[0][:200]


def unreachable(engine: Engine, exc: BaseException) -> StoreUnreachableError:
    """The one-line error for a database that cannot be reached."""
    return StoreUnreachableError(
        f"cannot reach the database {shown_url(str(engine.url))}: {_first_line(exc)}; {CHECK}"
    )


def probe(engine: Engine) -> StoreUnreachableError | None:
    """Connect and read the catalogue once: None when that works, else the connection
    problem. A file that opens but is not a database (SQLite's "file is not a database")
    is not a connection problem: None, and reading it later says the store is unreadable."""
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()
            else:
                conn.exec_driver_sql("SELECT 1").all()
    except OperationalError as exc:
        if engine.dialect.name == "sqlite" and "unable to open" not in str(exc.orig):
            return None  # opened, then found damaged: an integrity matter, not a connection
        return unreachable(engine, exc)
    except SQLAlchemyDatabaseError:
        return None
    return None


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for both."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


_WRITER_WAIT_S = 30.0  # as SQLite's busy timeout
_HOLDS_WRITER = "postex_holds_writer_lock"
_writer_locks: dict[str, threading.Lock] = {}
_writer_locks_guard = threading.Lock()


def _writer_lock(database: str | None) -> threading.Lock:
    """This process's lock for writing one SQLite file (shared by engines on that file)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return threading.Lock()
    key = str(Path(database).resolve())
    with _writer_locks_guard:
        return _writer_locks.setdefault(key, threading.Lock())


def make_engine(url: str) -> Engine:
    """An engine on ``url``; ConfigurationError for a scheme other than SQLite or PostgreSQL."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"the database URL is not one Postex can use: {URL_HINT}"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        _create_private(parsed.database)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA secure_delete=ON")  # destroyed data keys leave no bytes behind
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: the hot b-tree pages of a busy site
            cur.execute("PRAGMA wal_autocheckpoint=10000")  # checkpoint (and fsync) per ~40 MiB
            cur.close()

        writers = _writer_lock(parsed.database)

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            if not conn.get_execution_options().get("postex_write", False):
                conn.exec_driver_sql("BEGIN")
                return
            # Writers of this process queue here rather than in SQLite's busy handler,
            # which sleeps 1, 2, 5 … 100 ms between tries: under steady writes (the
            # follower's copies beside HTTP pre-advice) a waiter could lose every round.
            # Bounded: past it, SQLite's own timeout decides, as without this lock.
            held = writers.acquire(timeout=_WRITER_WAIT_S)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                if held:
                    writers.release()
                raise
            if held:
                conn.info[_HOLDS_WRITER] = writers

        def _end(conn: Connection) -> None:
            lock = conn.info.pop(_HOLDS_WRITER, None)
            if lock is not None:
                lock.release()

        event.listen(engine, "commit", _end)
        event.listen(engine, "rollback", _end)

        @event.listens_for(engine.pool, "reset")
        def _on_reset(_dbapi: Any, record: Any, _state: Any) -> None:
            # A connection returned without its transaction ended (the pool rolls back).
            lock = record.info.pop(_HOLDS_WRITER, None)
            if lock is not None:
                lock.release()

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise ConfigurationError(f"unsupported database URL scheme: {parsed.get_backend_name()}")


def _create_private(database: str | None) -> None:
    """Create a missing SQLite file 0600 before SQLite does (it would follow the umask).

    SQLite gives the -wal and -shm files the mode of the database file.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists() or not path.parent.is_dir():
        return  # an existing file keeps its mode; a missing folder is SQLite's error to report
    private_file(path)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose transactions take the write lock at once (``BEGIN IMMEDIATE``)."""
    with engine.connect() as raw:
        yield raw.execution_options(postex_write=True)


@contextmanager
def readable(engine: Engine, what: str) -> Iterator[None]:
    """Translate driver errors on reading the log into :class:`StoreUnreadableError`."""
    dbapi_error = getattr(engine.dialect.loaded_dbapi, "DatabaseError", Exception)
    try:
        yield
    except (SQLAlchemyDatabaseError, dbapi_error) as exc:
        # Only a store that answers and holds bad data is unreadable; one that cannot be
        # reached says nothing about the data (an operator must not restore on that word).
        problem = probe(engine)
        if problem is not None:
            raise problem from None
        raise StoreUnreadableError(
            f"cannot read {what} from the store ({type(exc).__name__}): the database may be "
            "damaged, overwritten or encrypted; restore the site (docs/operations.md)"
        ) from None
