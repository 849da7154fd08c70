"""Operations in Debian's Chromium: a network-wide hold placed by one ops user and
confirmed by another, each signing in with a password and a TOTP code, then a staged
release confirmed the same way; advisories, the audit trail and network health; an
auditor's read-only view. axe-core on every page at both screen sizes, screenshots to
``POSTEX_CONSOLE_SHOTS`` (docs/console for the committed ones).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest

from postex.bootstrap import Container, replication
from postex.incidents.app.holds import list_holds
from tests.console.helpers import PASSWORD, user
from tests.e2e.test_console_browser import SHOTS_VARIABLE, SIZES, _no_serious_violations
from tests.factories import letters, staff
from tests.incidents.incident_helpers import accept_items, item_state

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]


def _code(node: Container, secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now (or ``steps_ahead`` 30-second steps later),
    on the node's clock."""
    return str(pyotp.TOTP(secret).at(node.ctx.clock.now(), counter_offset=steps_ahead))


def _sign_in(page: Any, server: str, name: str) -> None:
    page.goto(f"{server}/console/sign-in")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")


def _enrol_then_sign_in_again(node: Container, page: Any, server: str, name: str) -> None:
    """First sign-in: enrol TOTP from the key the page shows. Then sign out and sign in
    again as on any later day: password, then the 6-digit code."""
    _sign_in(page, server, name)
    page.wait_for_url("**/console/totp/enrol")
    secret = page.locator("main code").first.inner_text().strip()
    page.fill("#code", _code(node, secret))
    page.click("main button[type=submit]")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in")
    _sign_in(page, server, name)
    page.wait_for_url("**/console/sign-in/code")
    # Each step's code signs in once (replays are refused): the enrolment spent this one,
    # so sign in with the next step's code, which the node accepts as a clock skew.
    page.fill("#code", _code(node, secret, 1))
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/sites/.*"))


def _check(page: Any, shots: Path, name: str, both: bool = True) -> None:
    """axe at both sizes; a screenshot of each."""
    for size, viewport in SIZES.items():
        if size == "large" and not both:
            continue
        page.set_viewport_size(viewport)
        _no_serious_violations(page, f"{name} {size}")
        page.screenshot(path=str(shots / f"{name}-{viewport['width']}x{viewport['height']}.png"),
                        full_page=size == "large")  # fmt: skip
    page.set_viewport_size(SIZES["small"])


def test_two_ops_users_hold_confirm_and_release_in_stages(
    node: Container, server: str, browser: Any, tmp_path: Path
) -> None:
    shots = Path(os.environ.get(SHOTS_VARIABLE) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    goods, letter = letters(node, 1, 1)
    accept_items(node, [goods.id, letter.id])
    user(node, "olga", "ops", None)
    user(node, "otto", "ops", None)
    olga = browser.new_context(viewport=SIZES["small"]).new_page()
    otto = browser.new_context(viewport=SIZES["small"]).new_page()
    outside: list[str] = []
    for p in (olga, otto):
        p.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server) else None)
    _enrol_then_sign_in_again(node, olga, server, "olga")
    _enrol_then_sign_in_again(node, otto, server, "otto")

    # Olga builds the scope: goods to the US, everywhere; the preview counts one item.
    olga.goto(f"{server}/console/holds")
    olga.select_option("#destinations", ["US"])
    olga.check("input[name=goods_only]")
    from playwright.sync_api import expect

    expect(olga.locator("#preview-count")).to_have_text("1")
    olga.fill("#reason", "US customs system down")
    olga.fill("#advisory", "Items with goods for the US wait at our sites until further notice.")
    olga.click("details.preview-pane summary")
    preview = olga.locator("#status-preview")
    expect(preview).to_contain_text("Items with goods for the US wait at our sites")
    expect(preview).to_contain_text("United States (US)")
    _check(olga, shots, "ops-place-hold")
    olga.get_by_role("button", name="Place hold").click()
    olga.wait_for_url(re.compile(r".*/console/holds/hold_[0-9a-f]+$"))
    hold_url = olga.url
    assert "Waiting for a second person to confirm" in olga.inner_text("main")
    assert "You placed this hold" in olga.inner_text("main")
    assert olga.get_by_role("button", name=re.compile("Confirm")).count() == 0
    _check(olga, shots, "ops-hold-waiting")
    assert item_state(node, goods.id) == "accepted"

    # Otto, another ops user, confirms: the hold is in force.
    otto.goto(hold_url)
    otto.get_by_role("button", name="Confirm this hold as otto").click()
    otto.wait_for_url(hold_url)
    assert "Waiting for a second person" not in otto.inner_text("main")
    assert otto.inner_text("#held-count") == "1"
    assert item_state(node, goods.id) == "held"
    _check(otto, shots, "ops-hold-active")

    # Stage one: Otto asks to release the tracked service; Olga confirms.
    otto.check(f"input[name=services][value={goods.service}]")
    otto.fill("#release-reason", "US customs back for tracked letters")
    otto.get_by_role("button", name="Release").click()
    otto.wait_for_url(re.compile(r".*released=pending"))
    assert "Release waiting for a second person to confirm" in otto.inner_text("main")
    _check(otto, shots, "ops-release-waiting", both=False)
    olga.goto(hold_url)
    olga.get_by_role("button", name="Confirm this release as olga").click()
    olga.wait_for_url(hold_url)
    assert olga.inner_text("#released-count") == "1"
    assert item_state(node, goods.id) == "accepted"

    # Stage two: the hold ends, again with two people.
    olga.check("input[name=what][value=all]")
    olga.fill("#release-reason", "all clear")
    olga.get_by_role("button", name="Release").click()
    olga.wait_for_url(re.compile(r".*released=pending"))
    otto.goto(hold_url)
    otto.get_by_role("button", name="Confirm this release as otto").click()
    otto.wait_for_url(hold_url)
    assert "released" in otto.inner_text("h1")
    (hold,) = list_holds(node.ctx, staff(node, "auditor", site=None, name="api.aud").principal)
    assert hold.released_at is not None

    # The advisory, the audit trail (by name) and network health.
    olga.goto(f"{server}/console/advisories")
    assert "Items with goods for the US" in olga.inner_text("#status-preview")
    _check(olga, shots, "ops-advisories")
    olga.goto(f"{server}/console/audit?action=hold.*")
    who = olga.locator("strong.who").all_inner_texts()
    assert set(who) == {"olga", "otto"}
    _check(olga, shots, "ops-audit")
    node.admin.checkpoint_now("GBLALA")
    when = node.ctx.clock.now().isoformat()
    replication(node).state.raise_alarm("GBLALA", 12, "fork", "two histories at seq 12", when)
    olga.goto(f"{server}/console/network")
    assert "this node" in olga.inner_text("main")
    assert olga.locator(".chart svg rect.bar").count() == 24
    _check(olga, shots, "ops-network")
    olga.fill("input[id^=clear-]", "INC-7: the site was restored from the hub")
    olga.get_by_role("button", name=re.compile("Clear alarm")).click()
    olga.wait_for_url(f"{server}/console/network")
    assert replication(node).state.alarms() == []
    assert outside == []


def test_advisory_preview_follows_the_text_typed(
    node: Container, server: str, browser: Any, tmp_path: Path
) -> None:
    """Typing an update redraws the status-page preview in place; the auditor sees the
    same pages with no form."""
    from postex.incidents.app.holds import place_hold

    shots = Path(os.environ.get(SHOTS_VARIABLE) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    boss = staff(node, "supervisor", name="boss")
    place_hold(node.ctx, boss.principal, {
        "scope": {"sites": ["GBLALA"], "destinations": ["US"], "goods_only": True},
        "reason": "customs system down", "advisory": "Goods to the US wait at Heathrow.",
    })  # fmt: skip
    user(node, "olga", "ops", None)
    user(node, "audrey", "auditor", None)
    olga = browser.new_context(viewport=SIZES["small"]).new_page()
    _enrol_then_sign_in_again(node, olga, server, "olga")
    olga.goto(f"{server}/console/advisories")
    box = olga.locator("textarea[id^=update-]")
    box.fill("Tracked letters resume at noon.")
    olga.locator("#status-preview").get_by_text("Tracked letters resume at noon.").wait_for()
    _check(olga, shots, "ops-advisory-preview")

    audrey = browser.new_context(viewport=SIZES["small"]).new_page()
    _sign_in(audrey, server, "audrey")
    audrey.wait_for_url("**/console/totp/enrol")
    secret = audrey.locator("main code").first.inner_text().strip()
    audrey.fill("#code", _code(node, secret))
    audrey.click("main button[type=submit]")
    audrey.wait_for_url("**/console/totp/enrol")  # the recovery codes, on the same address
    for name, path in (("auditor-holds", "/console/holds"),
                       ("auditor-advisories", "/console/advisories"),
                       ("auditor-audit", "/console/audit"),
                       ("auditor-network", "/console/network")):  # fmt: skip
        audrey.goto(f"{server}{path}")
        forms = audrey.locator("main form[method=post]").count()
        assert forms == 0, path
        assert audrey.locator("main textarea, main input[type=checkbox]").count() == 0, path
        _check(audrey, shots, name, both=name == "auditor-holds")
