"""Shared fixtures: real SQLite and PostgreSQL stores, a node, an HTTP client.

PostgreSQL tests read POSTEX_TEST_DATABASE_URL; NATS tests read POSTEX_TEST_NATS_URL.
Without them those tests skip with a one-line reason, except under CI=true, where a
missing service is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from postex.bootstrap import Container, build, projections
from postex.config import load_settings
from postex.eventlog.sql.engine import normalise_url
from postex.eventlog.sql.schema import LOG_TABLES, heads
from postex.network.sql.tables import TABLES as REPLICATION_TABLES
from postex.server import create_app
from tests.factories import Caller, make_caller

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("POSTEX_TEST_DATABASE_URL", "")
NATS_URL = os.environ.get("POSTEX_TEST_NATS_URL", "")


def need_service(name: str, value: str, variable: str) -> None:
    if value:
        return
    if IN_CI:
        pytest.fail(f"{name} is required in CI: set {variable}", pytrace=False)
    pytest.skip(f"{name} not configured: set {variable} to run this test")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    need_service("PostgreSQL", PG_URL, "POSTEX_TEST_DATABASE_URL")
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"postex_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server is not answering
        if IN_CI:
            raise
        pytest.skip(
            f"PostgreSQL at POSTEX_TEST_DATABASE_URL not reachable: {exc.__class__.__name__}"
        )
    base = normalise_url(PG_URL).rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    # Replication bookkeeping too: a recorded node role (or a hub's journal) left by one
    # test would make the next test's node refuse its role.
    tables = [t.name for t in [*projections().tables(), heads, *LOG_TABLES, *REPLICATION_TABLES]]
    with engine.begin() as conn:
        existing = {
            r[0]
            for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        }
        names = ", ".join(f'"{t}"' for t in tables if t in existing)
        if names:
            conn.execute(text(f"TRUNCATE {names}"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test (migrating each time is slow)."""
    home = tmp_path_factory.mktemp("template")
    settings = load_settings(home=str(home), db_url=f"sqlite:///{home / 't.db'}")
    c = build(settings, create=True, claim=False)  # each copy records its own node's role
    c.close()
    return home / "t.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """Every store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "postex.db"
        shutil.copy(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    url = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "postex.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


def make_node(home: Path, url: str, site: str = "GBLALA", **settings: object) -> Container:
    """A node with fresh keys. The webhook worker is off unless a test turns it on: a
    background writer would make "rebuild equals live" comparisons race."""
    settings.setdefault("webhook_worker_seconds", 0)
    return build(load_settings(home=str(home), db_url=url, site=site, **settings), create=True)


@pytest.fixture
def node(tmp_path: Path, db_url: str) -> Iterator[Container]:
    """A single node on the parametrised store, with fresh keys."""
    c = make_node(tmp_path / "home", db_url)
    yield c
    c.close()


@pytest.fixture
def sqlite_node(tmp_path: Path, sqlite_url: str) -> Iterator[Container]:
    c = make_node(tmp_path / "home", sqlite_url)
    yield c
    c.close()


@pytest.fixture
def client(node: Container) -> Iterator[TestClient]:
    with TestClient(create_app(node)) as c:
        yield c


@pytest.fixture
def sqlite_client(sqlite_node: Container) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_node)) as c:
        yield c


@pytest.fixture(autouse=True, scope="session")
def _catalogue_round_trips() -> Iterator[None]:
    """Every event any test appends or replays must read back into its catalogue record and
    write the very same body: a body key the record does not carry would be lost on the
    next write of that shape, so the whole suite checks the catalogue against real bodies."""
    from postex.bootstrap import CATALOGUE
    from postex.eventlog.catalogue import UnknownEvent
    from postex.eventlog.sql.projections import Projections

    original = Projections.apply

    def apply(self: Projections, conn: Any, events: Any) -> None:
        for e in events:
            if CATALOGUE.current_type(e.type) != e.type:
                continue  # an old version: read through its upcaster, never written again
            record = CATALOGUE.decode(e.type, e.data)
            if not isinstance(record, UnknownEvent):
                assert record.to_body() == e.data, f"{e.type} does not round-trip"
        original(self, conn, events)

    Projections.apply = apply  # type: ignore[method-assign]
    yield
    Projections.apply = original  # type: ignore[method-assign]


@pytest.fixture
def alice(node: Container) -> Caller:
    return make_caller(node, "Alice Exports Ltd")


@pytest.fixture
def bob(node: Container) -> Caller:
    return make_caller(node, "Bob Shipping plc")


@pytest.fixture
def sqlite_alice(sqlite_node: Container) -> Caller:
    return make_caller(sqlite_node, "Alice Exports Ltd")
