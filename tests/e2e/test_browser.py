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


PHONE = {"width": 390, "height": 844}


def _axe_clean(page: object, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    bad = [(v["id"], v["impact"]) for v in found if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{name}: {bad}"


@pytest.mark.sqlite_only
def test_public_pages_on_a_phone_are_accessible_and_show_the_readers_time(
    node: Container, server: str, browser: object, tmp_path: Path
) -> None:
    """Landing page, a held item's page and a mistyped number, on a phone: axe finds no
    serious or critical violation, the reader's own time is drawn, nothing overflows."""
    import os

    from postex.incidents.app.holds import place_hold
    from postex.sites.app.acceptance import Scan, accept
    from tests.factories import staff

    shots = Path(os.environ.get("POSTEX_PUBLIC_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    [item] = new_items(node, new_customer(node).record.id)
    accept(node.site_ops, staff(node, "clerk").principal, "GBLALA", [Scan(item.id, item.weight_g)])
    place_hold(node.ctx, staff(node, "ops").principal, {
        "scope": {"destinations": ["US"]}, "reason": "customs outage", "emergency": True,
        "advisory": "Items to the United States wait at Heathrow while US customs is down.",
    })  # fmt: skip
    page = browser.new_page(viewport=PHONE)  # type: ignore[attr-defined]
    assert page.goto(f"{server}/").status == 200
    _axe_clean(page, "landing")
    page.screenshot(path=str(shots / "landing.png"), full_page=True)
    spaced = f"{item.id[:2].lower()} {item.id[2:11]} {item.id[11:].lower()}"
    page.fill("#item", spaced)
    page.press("#item", "Enter")
    page.wait_for_url(f"**/track/{item.id}")
    assert page.inner_text("#status") == "Held"
    assert "US customs is down" in page.inner_text("#advisory")
    yours = page.locator("span.yours").first
    assert yours.is_visible() and "your time" in yours.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    _axe_clean(page, "track")
    page.screenshot(path=str(shots / "track-held.png"), full_page=True)
    page.fill("#item", "RB123456784GB")
    page.press("#item", "Enter")
    page.locator("#item-error").wait_for()
    assert "should be 5" in page.inner_text("#item-error")
    _axe_clean(page, "wrong check digit")
    page.screenshot(path=str(shots / "track-mistyped.png"), full_page=True)
