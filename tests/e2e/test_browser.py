"""Real-browser checks of the public pages in Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from postex.bootstrap import Container
from postex.server import create_app
from tests.conftest import IN_CI
from tests.factories import ITEM, new_customer, new_items

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(node: Container) -> Iterator[str]:
    """The node served by uvicorn on a free loopback port, in a thread."""
    port = _free_port()
    config = uvicorn.Config(create_app(node), host="127.0.0.1", port=port, log_level="error")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("Debian's chromium is required in CI (apt-get install chromium)")
        pytest.skip("chromium not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield b
        b.close()


@pytest.mark.sqlite_only
def test_public_tracking_page_shows_the_item_and_no_personal_data(
    node: Container, server: str, browser: object, tmp_path: Path
) -> None:
    """A person opening /track/{id} sees status and destination, never names or streets."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    page = browser.new_page()  # type: ignore[attr-defined]
    response = page.goto(f"{server}/track/{item.id}")
    assert response.status == 200
    text = page.inner_text("body")
    assert item.id in text
    assert "United States" in text
    for secret in (ITEM["addressee"]["name"], "Juniper", ITEM["sender"]["name"], "Marigold"):
        assert secret not in page.content()
    page.screenshot(path=str(tmp_path / "track.png"))
    assert (tmp_path / "track.png").stat().st_size > 1000


@pytest.mark.sqlite_only
def test_unknown_item_page_says_so(server: str, browser: object) -> None:
    """A valid but unknown id gets a readable 404 page, not a stack trace."""
    page = browser.new_page()  # type: ignore[attr-defined]
    response = page.goto(f"{server}/track/RB123456785GB")
    assert response.status == 404
    assert "Traceback" not in page.content()


@pytest.mark.sqlite_only
def test_status_page_renders(server: str, browser: object) -> None:
    """The public status page loads in a browser."""
    page = browser.new_page()  # type: ignore[attr-defined]
    response = page.goto(f"{server}/status")
    assert response.status == 200
    assert page.title()
