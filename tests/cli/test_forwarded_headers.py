"""X-Forwarded-For is believed only from configured proxies (uvicorn's default trusts any
loopback client): otherwise a client behind no proxy could forge its address, sidestep the
public rate limit and write a false address into the audit trail."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest
import uvicorn

from postex.bootstrap import Container
from postex.cli.node import uvicorn_options
from postex.server import create_app
from tests.e2e.conftest import _free_port


@contextmanager
def _served(node: Container, trusted: str) -> Iterator[str]:
    settings = replace(node.settings, trusted_proxies=trusted, public_rate=1, public_burst=2)
    options = {**uvicorn_options(settings), "host": "127.0.0.1", "port": _free_port()}
    node.settings = settings  # type: ignore[misc]
    srv = uvicorn.Server(uvicorn.Config(create_app(node), **options))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{options['port']}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def _statuses(base: str) -> list[int]:
    """Five lookups, each claiming to come from a different address."""
    with httpx.Client(base_url=base) as c:
        return [
            c.get("/api/v1/tracking/RB123456785GB",
                  headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(5)
        ]  # fmt: skip


@pytest.mark.sqlite_only
def test_a_forged_forwarded_for_does_not_escape_the_rate_limit(node: Container) -> None:
    with _served(node, "") as base:
        assert 429 in _statuses(base)  # one client, whatever it claims


@pytest.mark.sqlite_only
def test_a_configured_proxy_is_believed(node: Container) -> None:
    with _served(node, "127.0.0.1") as base:
        assert 429 not in _statuses(base)  # five clients behind the site's proxy


def test_by_default_no_proxy_is_trusted(node: Container) -> None:
    options = uvicorn_options(node.settings)
    assert options["proxy_headers"] is False and options["forwarded_allow_ips"] == ""
