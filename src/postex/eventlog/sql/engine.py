"""The database engine: URLs, connection settings, and driver errors at the boundary.

SQLite runs in WAL mode and starts write transactions with ``BEGIN IMMEDIATE`` (a
connection opened with the ``postex_write`` execution option), so a writer never has to
upgrade a read lock; PostgreSQL uses psycopg 3 with a pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError as SQLAlchemyDatabaseError

from postex.kernel.errors import ConfigurationError, StoreUnreadableError


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for both."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine on ``url``; ConfigurationError for a scheme other than SQLite or PostgreSQL."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
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

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("postex_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise ConfigurationError(f"unsupported database URL scheme: {parsed.get_backend_name()}")


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
        raise StoreUnreadableError(
            f"cannot read {what} from the store ({type(exc).__name__}): the database may be "
            "damaged, overwritten or encrypted; restore the site (docs/operations.md)"
        ) from None
