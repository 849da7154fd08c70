"""Scratch databases and timing helpers shared by the benchmarks."""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from postex.bootstrap import Container, build, normalise_url
from postex.config import load_settings


@contextmanager
def scratch_node(kind: str, pg_url: str | None = None, site: str = "GBLALA") -> Iterator[Container]:
    """A throwaway node on a new SQLite file or a new PostgreSQL database."""
    with tempfile.TemporaryDirectory(prefix="postex-bench-") as home:
        if kind == "sqlite":
            url = f"sqlite:///{Path(home) / 'bench.db'}"
            c = build(load_settings(home=home, db_url=url, site=site), create=True)
            try:
                yield c
            finally:
                c.close()
            return
        if not pg_url:
            raise ValueError("a PostgreSQL URL is needed (--postgres URL)")
        admin = create_engine(normalise_url(pg_url), isolation_level="AUTOCOMMIT")
        name = f"postex_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        base = normalise_url(pg_url).rsplit("/", 1)[0]
        c = build(load_settings(home=home, db_url=f"{base}/{name}", site=site), create=True)
        try:
            yield c
        finally:
            c.close()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def timed(fn: Callable[[], object], then: Callable[[], object] | None = None) -> float:
    """Seconds ``fn`` takes, with ``then`` (e.g. flushing its writes to disk) included."""
    start = time.perf_counter()
    fn()
    if then is not None:
        then()
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    import os

    return (
        f"{platform.node()} · {platform.system()} {platform.release()} · "
        f"{os.cpu_count()} cores · Python {platform.python_version()} · "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
    )
