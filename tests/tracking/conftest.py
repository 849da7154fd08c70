"""Fixtures for track and trace: node settings, a hand-driven clock, a partner, a receiver."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from postex.accounts.app.auth import Role, issue_token
from postex.accounts.app.partners import create_partner
from postex.bootstrap import Container
from tests.factories import ManualClock

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def node_settings() -> dict[str, object]:
    """Webhook receivers in these tests listen on 127.0.0.1."""
    return {"webhook_allow_private": True}


@pytest.fixture
def clock() -> ManualClock:
    """Tracking nodes start at T0 and move by hand."""
    return ManualClock(T0)


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
