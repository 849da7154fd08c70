"""Portal fixtures: a node on a clock the test moves, and a client that keeps cookies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.server import create_app
from tests.factories import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def browser_client(node: Container) -> Iterator[TestClient]:
    """A client like a browser on plain http: cookies kept, redirects not followed."""
    with TestClient(create_app(node), follow_redirects=False) as c:
        yield c
