"""Helpers for console tests: a node with a clock tests move, staff with passwords, sign-in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from postex.accounts.app.staff import CreatedUser, create_user
from postex.bootstrap import Container, build
from postex.config import load_settings
from postex.server import create_app

PASSWORD = "correct horse battery"
SITE = "GBLALA"


class StepClock:
    """A clock tests move forward by hand (always timezone-aware UTC)."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def console_node(tmp_path: Path, db_url: str, clock: StepClock) -> Iterator[Container]:
    settings = load_settings(home=str(tmp_path / "home"), db_url=db_url, site=SITE,
                             webhook_worker_seconds=0)  # fmt: skip
    c = build(settings, create=True, clock=clock)
    yield c
    c.close()


@pytest.fixture
def browser_client(console_node: Container) -> Iterator[TestClient]:
    """A client like a browser on plain http: cookies kept, redirects not followed."""
    with TestClient(create_app(console_node), follow_redirects=False) as c:
        yield c


def user(node: Container, name: str, role: str, site: str | None = SITE) -> CreatedUser:
    return create_user(node.ctx, name, role, site, password=PASSWORD)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Post the sign-in form; the address it sends the browser to next."""
    r = client.post("/console/sign-in", data={"username": name, "password": password})
    assert r.status_code == 303, r.text
    return r.headers["location"]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def totp_code(html: str, clock: StepClock) -> str:
    """The current code for the key an enrolment page shows."""
    found = re.search(r"<code>([A-Z2-7]+)</code>", html)
    assert found is not None, html
    return pyotp.TOTP(found.group(1)).at(clock.now())
