"""Real-browser checks of the public pages in Debian's Chromium, driven by Playwright."""

from __future__ import annotations

from pathlib import Path

import pytest

from postex.bootstrap import Container
from tests.factories import ITEM, new_customer, new_items

pytestmark = pytest.mark.browser


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


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("path", "ready"), [("/docs", ".opblock"), ("/redoc", "[role=menuitem]")])
def test_api_docs_render_with_the_internet_down(
    server: str, browser: object, path: str, ready: str
) -> None:
    """Every request leaving the node is refused, as at a site with its link down; the
    Swagger UI and ReDoc pages still draw the operations, and none was even attempted."""
    page = browser.new_page()  # type: ignore[attr-defined]
    outside: list[str] = []

    def only_the_node(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith(server):
            route.continue_()  # type: ignore[attr-defined]
        else:
            outside.append(url)
            route.abort()  # type: ignore[attr-defined]

    page.route("**/*", only_the_node)
    assert page.goto(f"{server}{path}").status == 200
    page.locator(ready).first.wait_for(timeout=20_000)
    assert "acceptances" in page.inner_text("body").lower()
    assert outside == []
