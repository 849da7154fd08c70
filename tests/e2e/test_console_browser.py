"""A clerk at the counter, in Debian's Chromium: sign in, scan, see green, red and amber.

Also runs axe-core on every console page (no serious or critical violations) and saves
screenshots at the two screen sizes the console is built for (to docs/console/ with
``POSTEX_CONSOLE_SHOTS=docs/console``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.incidents.app.holds import place_hold
from postex.kernel.reference import services
from postex.sites.app import receptacles as rcp
from tests.console.helpers import PASSWORD, SITE, user
from tests.factories import letters, staff

pytestmark = pytest.mark.browser
# Screenshots go to a temporary folder unless POSTEX_CONSOLE_SHOTS names one (the committed
# ones: POSTEX_CONSOLE_SHOTS=docs/console), so that a test run leaves the tree unchanged.
SHOTS_VARIABLE = "POSTEX_CONSOLE_SHOTS"
SIZES = {"small": {"width": 1024, "height": 600}, "large": {"width": 1920, "height": 1080}}


def _no_serious_violations(page: Any, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    bad = [
        (v["id"], v["impact"], v["help"]) for v in found if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{name}: {bad}"


@pytest.mark.sqlite_only
def test_a_clerk_signs_in_and_scans_green_red_and_amber(
    node: Container, server: str, browser: Any, tmp_path: Path
) -> None:
    """Scans typed into the scan field are answered in place, each in its colour, with
    the bag for the accepted item and the hold's advisory for the held one."""
    user(node, "clara", "clerk")
    clerk = staff(node, "clerk", name="api.clerk")
    boss = staff(node, "supervisor", name="boss")
    goods, letter = letters(node, 1, 1)
    route = node.site_ops.network.route("US", services().get(letter.service).mail_class)
    bag = rcp.open_receptacle(
        node.site_ops, clerk.principal, SITE, route.destination, route.category, route.subclass
    )
    place_hold(node.ctx, boss.principal, {
        "scope": {"sites": [SITE], "destinations": ["US"], "goods_only": True},
        "reason": "customs system down", "advisory": "Goods to the US wait at Heathrow.",
    })  # fmt: skip
    shots = Path(os.environ.get(SHOTS_VARIABLE) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=SIZES["small"])
    page.goto(f"{server}/console")
    assert page.url.endswith("/console/sign-in")
    _no_serious_violations(page, "sign-in")
    page.screenshot(path=str(shots / "sign-in.png"))
    page.fill("#username", "clara")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/console/sites/{SITE}/accept")
    scan = page.locator("#scan")
    assert page.evaluate("document.activeElement.id") == "scan"
    _no_serious_violations(page, "acceptance")

    def scan_item(typed: str, weight: int, outcome: str) -> str:
        page.fill("#weight", str(weight))
        scan.click()
        scan.type(typed)
        scan.press("Enter")
        answer = page.locator(f"#answer [data-outcome={outcome}]")
        answer.wait_for(timeout=10_000)
        assert page.evaluate("document.activeElement.id") == "scan"  # ready for the next
        assert scan.input_value() == ""
        return str(answer.inner_text())

    green = scan_item(letter.id.lower(), letter.weight_g, "accepted")
    assert bag.id in green
    assert route.destination in green
    _no_serious_violations(page, "accepted answer")
    page.screenshot(path=str(shots / "accepted-1024x600.png"))
    page.set_viewport_size(SIZES["large"])
    page.screenshot(path=str(shots / "accepted-1920x1080.png"))
    page.set_viewport_size(SIZES["small"])

    red = scan_item("RB123456785GB", 120, "refused")
    assert "no pre-advice" in red
    _no_serious_violations(page, "refused answer")
    page.screenshot(path=str(shots / "refused-1024x600.png"))

    amber = scan_item(goods.id, goods.weight_g, "held")
    assert "Goods to the US wait at Heathrow." in amber
    _no_serious_violations(page, "held answer")
    page.screenshot(path=str(shots / "held-1024x600.png"))
    counts = [page.inner_text(f"#count-{o}") for o in ("accepted", "refused", "held")]
    assert counts == ["1", "1", "1"]
    rows = execute_raw(node.engine, "SELECT id, state FROM items ORDER BY id")
    assert dict(rows) == {letter.id: "accepted", goods.id: "pre_advised"}


@pytest.mark.sqlite_only
def test_a_supervisor_is_shown_the_totp_enrolment_with_a_qr_code(
    node: Container, server: str, browser: Any, tmp_path: Path
) -> None:
    """A supervisor's first sign-in stops at the enrolment page: a QR code drawn by Postex
    (inline SVG, no outside request) and the key in text, accessible as the rest."""
    user(node, "sam", "supervisor")
    shots = Path(os.environ.get(SHOTS_VARIABLE) or tmp_path)
    page = browser.new_page(viewport=SIZES["small"])
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server) else None)
    page.goto(f"{server}/console/sign-in")
    page.fill("#username", "sam")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/totp/enrol")
    assert page.locator(".qr svg").count() == 1
    _no_serious_violations(page, "enrolment")
    page.screenshot(path=str(shots / "enrol-1024x600.png"), full_page=True)
    assert outside == []


@pytest.mark.sqlite_only
def test_a_wedge_scale_types_the_weight_into_the_scan_field(
    node: Container, server: str, browser: Any
) -> None:
    """A scale that types "853" and Enter, then the scanner the S10: accepted at the
    scale's weight; the reading is used once, so the next item must be weighed again."""
    user(node, "clara", "clerk")
    first, second = letters(node, 2, 0)
    page = browser.new_page(viewport=SIZES["small"])
    page.goto(f"{server}/console/sign-in")
    page.fill("#username", "clara")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/console/sites/{SITE}/accept")
    scan = page.locator("#scan")
    grams = first.weight_g + 3
    page.keyboard.type(f"{grams}\n")  # the scale
    assert page.input_value("#weight") == str(grams)
    assert "from the scale" in page.inner_text("#weight-note")
    assert scan.input_value() == "" and page.evaluate("document.activeElement.id") == "scan"
    page.keyboard.type(f"{first.id}\n")  # the scanner
    page.locator("#answer [data-outcome=accepted]").wait_for(timeout=10_000)
    assert page.input_value("#weight") == ""  # used once
    page.keyboard.type(f"{second.id}\n")  # scanned without weighing
    page.locator("#answer [data-outcome=refused]").wait_for(timeout=10_000)
    assert "weigh the item" in page.inner_text("#answer")
    [(measured,)] = execute_raw(
        node.engine, f"SELECT measured_g FROM item_handling WHERE item_id = '{first.id}'"
    )
    assert measured == grams
