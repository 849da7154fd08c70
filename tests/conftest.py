"""Shared fixtures: real SQLite and PostgreSQL stores, a node, an HTTP client.

There is one `node` fixture. A test shapes it through two fixtures a directory conftest or
a module may override, and one marker:
- `node_settings`: settings for every node of that directory or module (default none);
- `clock`: the node's clock, None for the system clock or a `ManualClock` to move by hand;
- `@pytest.mark.node(**settings)`: settings for one test, over `node_settings`.
`@pytest.mark.sqlite_only` keeps a test off PostgreSQL (its PostgreSQL case is deselected).

PostgreSQL tests read POSTEX_TEST_DATABASE_URL; NATS tests read POSTEX_TEST_NATS_URL.
Without them those tests skip with a one-line reason, except under CI=true, where a
missing service is a failure.

`make test` runs the tests on two pytest-xdist workers (`--dist loadgroup`): each test goes
to whichever worker is free, except the modules of `ONE_WORKER`, which run one after
another on a single worker, each in file order.
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

from postex.accounts.sql.portal_users import customer_users
from postex.accounts.sql.sessions import staff_sessions, staff_sign_in_throttle
from postex.accounts.sql.staff_passwords import staff_passwords
from postex.bootstrap import Container, build, projections
from postex.config import load_settings
from postex.eventlog.sql.engine import normalise_url
from postex.eventlog.sql.schema import LOG_TABLES, heads
from postex.items.sql.portal import customer_column_mappings
from postex.network.sql.tables import TABLES as REPLICATION_TABLES
from postex.server import create_app
from tests.factories import Caller, ManualClock, make_caller

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


def _empty_pg(url: str) -> None:
    """Every row of the tables a node writes, gone: DELETE, all in one transaction and one
    round trip. (TRUNCATE gives the same empty tables but makes new files for all fifty of
    them, about ten times slower, and this runs before each of some 570 PostgreSQL tests.
    No table has a trigger or a foreign key, so DELETE removes exactly what TRUNCATE would.)"""
    engine = create_engine(url)
    # Replication bookkeeping too: a recorded node role (or a hub's journal) left by one
    # test would make the next test's node refuse its role. Operational tables (sessions,
    # sign-in throttle) are not projections but must not leak from test to test either.
    operational = [staff_sessions, staff_sign_in_throttle, customer_users, customer_column_mappings,
                   staff_passwords]  # fmt: skip
    tables = [
        t.name
        for t in [*projections().tables(), heads, *LOG_TABLES, *REPLICATION_TABLES, *operational]
    ]
    with engine.begin() as conn:
        existing = {
            r[0]
            for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        }
        deletes = "; ".join(f'DELETE FROM "{t}"' for t in tables if t in existing)
        if deletes:
            conn.execute(text(deletes))
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
    _empty_pg(url)
    yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "postex.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


def make_node(
    home: Path,
    url: str,
    site: str = "GBLALA",
    clock: ManualClock | None = None,
    **settings: object,
) -> Container:
    """A node with fresh keys. The webhook worker is off unless a test turns it on: a
    background writer would make "rebuild equals live" comparisons race."""
    settings.setdefault("webhook_worker_seconds", 0)
    return build(
        load_settings(home=str(home), db_url=url, site=site, **settings), create=True, clock=clock
    )


@pytest.fixture
def node_settings() -> dict[str, object]:
    """Settings for every node of a directory or module; override it there."""
    return {}


@pytest.fixture
def clock() -> ManualClock | None:
    """The node's clock: None is the system clock; override with a `ManualClock`."""
    return None


@pytest.fixture
def node(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    db_url: str,
    node_settings: dict[str, object],
    clock: ManualClock | None,
) -> Iterator[Container]:
    """A single node on the parametrised store, with fresh keys: `node_settings` and the
    test's `@pytest.mark.node(...)` settings, on `clock`."""
    settings = dict(node_settings)
    for marker in reversed(list(request.node.iter_markers("node"))):
        settings.update(marker.kwargs)
    c = make_node(tmp_path / "home", db_url, clock=clock, **settings)  # type: ignore[arg-type]
    yield c
    c.close()


@pytest.fixture
def client(node: Container) -> Iterator[TestClient]:
    with TestClient(create_app(node)) as c:
        yield c


# Networks of real processes (NATS, a hub, sites started by `postex network up` or the
# drill), timed against failover and heard-from deadlines: one such module at a time, so
# two of them never share the two cores, and test_faults_multisite's tests, which share one
# network and build on each other, stay together and in order. (pytest-xdist's
# `xdist_group` marker would say this per module, but it renames node ids in a way pytest 9
# ignores, so the grouping is done here, by path.)
ONE_WORKER = frozenset(
    f"tests/network/{name}.py"
    for name in ("test_faults_multisite", "test_faults_kill", "test_faults_network",
                 "test_faults_recovery", "test_faults_tamper", "test_drill", "test_network_box")
)  # fmt: skip


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `--dist loadgroup`: one test per unit of work, the `ONE_WORKER` modules as one
    unit (xdist hands out the biggest units first, so they start at once)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class OneWorkerForNetworks(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.split("::", 1)[0] in ONE_WORKER:
                return "one-worker"
            return str(super()._split_scope(nodeid))

    return OneWorkerForNetworks(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the PostgreSQL case of tests marked `sqlite_only` (they are not skipped:
    there is nothing to run, so nothing to report)."""
    missing = [p for p in ONE_WORKER if not (config.rootpath / p).is_file()]
    assert not missing, f"ONE_WORKER names modules that are not there: {missing}"
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("db_url") == "postgres"
        if on_postgres and item.get_closest_marker("sqlite_only") is not None:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


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
