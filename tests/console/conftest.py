"""Console fixtures: a node on a clock the test moves, and a client that keeps cookies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from postex.accounts.sql.sessions import staff_sessions, staff_sign_in_throttle
from postex.bootstrap import Container, build
from postex.config import load_settings
from postex.server import create_app
from tests.console.helpers import SITE, StepClock


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def console_node(tmp_path: Path, db_url: str, clock: StepClock) -> Iterator[Container]:
    settings = load_settings(home=str(tmp_path / "home"), db_url=db_url, site=SITE,
                             webhook_worker_seconds=0)  # fmt: skip
    c = build(settings, create=True, clock=clock)
    # Operational tables are not projections: the shared PostgreSQL database keeps them
    # from test to test unless emptied here.
    with c.engine.begin() as conn:
        for table in (staff_sessions, staff_sign_in_throttle):
            conn.execute(table.delete())
    yield c
    c.close()


@pytest.fixture
def browser_client(console_node: Container) -> Iterator[TestClient]:
    """A client like a browser on plain http: cookies kept, redirects not followed."""
    with TestClient(create_app(console_node), follow_redirects=False) as c:
        yield c
