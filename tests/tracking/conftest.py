"""Fixtures for track and trace: a node with a hand-driven clock, a partner, a receiver."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from postex.accounts.app.auth import Role, issue_token
from postex.accounts.app.partners import create_partner
from postex.bootstrap import Container, build
from postex.config import load_settings
from postex.server import create_app

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class ManualClock:
    """A clock the test moves by hand (backoff is driven, never slept through)."""

    def __init__(self, start: datetime = T0) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t

    def advance(self, **delta: float) -> None:
        self.t += timedelta(**delta)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def tracking_node(home: Path, url: str, clock: ManualClock, **settings: object) -> Container:
    values: dict[str, object] = {"webhook_allow_private": True, "webhook_worker_seconds": 0}
    values.update(settings)
    return build(load_settings(home=str(home), db_url=url, **values), create=True, clock=clock)


@pytest.fixture
def tnode(tmp_path: Path, db_url: str, clock: ManualClock) -> Iterator[Container]:
    """A single node on SQLite and PostgreSQL whose clock the test drives."""
    c = tracking_node(tmp_path / "home", db_url, clock)
    yield c
    c.close()


@pytest.fixture
def tclient(tnode: Container) -> Iterator[TestClient]:
    with TestClient(create_app(tnode)) as c:
        yield c


def partner_key(node: Container, offices: tuple[str, ...] = ("USJFKA",), name: str = "USPS") -> str:
    return create_partner(node.ctx, name, offices).api_key


def staff_token(node: Container, role: Role = Role.OPS) -> str:
    token = issue_token("staff", "usr_ops_test", role, name="ops")
    with node.ctx.store.write(node.ctx.site) as uow:
        uow.append([token.event])
    return token.token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records webhook deliveries."""

    fail_first: int = 0
    requests: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        status = 503 if len(self.requests) < self.fail_first else 200
        self.requests.append((headers, body, status))
        return status


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = rec.answer(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    rec.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()
    thread.join(5)
