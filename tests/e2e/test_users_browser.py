"""An admin at the console, in Debian's Chromium: sign in with a password and a TOTP code,
open Users, disable a clerk who is signed in elsewhere; the clerk's next scan sends them to
sign-in. axe-core on the users pages at both screen sizes; screenshots as the console's
other browser tests (``POSTEX_CONSOLE_SHOTS=docs/console`` for the committed ones)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyotp
import pytest

from postex.accounts.app.totp import SEALED_AS
from postex.accounts.session_events import TotpEnrolled
from postex.bootstrap import Container
from tests.console.helpers import PASSWORD, SITE, user
from tests.e2e.test_console_browser import SHOTS_VARIABLE, SIZES, _no_serious_violations
from tests.factories import letters

pytestmark = pytest.mark.browser


def enrolled(node: Container, user_id: str) -> str:
    """Record a second factor for ``user_id`` as an enrolment does; its secret."""
    secret = pyotp.random_base32()
    with node.ctx.store.write(SITE) as uow:
        node.ctx.vault.create_key(uow, user_id)
        sealed = node.ctx.vault.seal(uow, user_id, SEALED_AS, {"secret": secret})
        uow.append([TotpEnrolled(user_id, sealed, [])])
    return secret


def sign_in(page: Any, server: str, name: str) -> None:
    page.goto(f"{server}/console/sign-in")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


@pytest.mark.sqlite_only
def test_an_admin_disables_a_signed_in_clerk_whose_next_scan_asks_for_sign_in(
    node: Container, server: str, browser: Any, tmp_path: Path
) -> None:
    ada = user(node, "ada", "admin", site=None)
    user(node, "clara", "clerk")
    user(node, "sam", "supervisor")
    user(node, "olive", "ops", site=None)
    user(node, "audrey", "auditor", site=None)
    secret = enrolled(node, ada.record.id)
    [letter] = letters(node, 1, 0)
    shots = Path(os.environ.get(SHOTS_VARIABLE) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    clerk = browser.new_context(viewport=SIZES["small"]).new_page()
    sign_in(clerk, server, "clara")
    clerk.wait_for_url(f"**/console/sites/{SITE}/accept")

    admin = browser.new_context(viewport=SIZES["small"]).new_page()
    sign_in(admin, server, "ada")
    admin.wait_for_url("**/console/sign-in/code")
    admin.fill("#code", pyotp.TOTP(secret).now())
    admin.click("button[type=submit]")
    admin.wait_for_url("**/console/users")
    admin.get_by_role("link", name="Users").first.wait_for()
    row = admin.locator("tr", has=admin.get_by_role("link", name="clara", exact=True))
    assert "Enabled" in row.inner_text()
    assert row.locator("td.num").inner_text() == "1"  # clara's live session
    _no_serious_violations(admin, "users 1024x600")
    admin.screenshot(path=str(shots / "users-1024x600.png"), full_page=True)
    admin.set_viewport_size(SIZES["large"])
    _no_serious_violations(admin, "users 1920x1080")
    admin.screenshot(path=str(shots / "users-1920x1080.png"))
    admin.set_viewport_size(SIZES["small"])

    admin.get_by_role("link", name="clara", exact=True).click()
    admin.wait_for_url("**/console/users/clara")
    _no_serious_violations(admin, "user")
    admin.fill("#disable-reason", "left the company")
    admin.get_by_role("button", name="Disable and end sessions").click()
    admin.wait_for_url("**/console/users/clara?done=disabled")
    assert "No live sessions" in admin.inner_text("main")
    _no_serious_violations(admin, "user disabled")
    admin.screenshot(path=str(shots / "users-disabled-1024x600.png"), full_page=True)

    scan = clerk.locator("#scan")
    clerk.fill("#weight", str(letter.weight_g))
    scan.click()
    scan.type(letter.id)
    scan.press("Enter")
    clerk.wait_for_url("**/console/sign-in", timeout=10_000)
    clerk.fill("#username", "clara")
    clerk.fill("#password", PASSWORD)
    clerk.click("button[type=submit]")
    assert "this account is disabled" in clerk.inner_text("main")
