"""A failover in Debian's Chromium: one operations lead asks on the failovers page, a second
confirms there; the page then shows what is in force and the abandoned receptacle. axe-core
on the page at both screen sizes (screenshots to ``POSTEX_CONSOLE_SHOTS``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from postex.bootstrap import Container
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.console.helpers import user
from tests.e2e.test_console_browser import SHOTS_VARIABLE, SIZES
from tests.e2e.test_operations_browser import _check, _enrol_then_sign_in_again
from tests.factories import SERIES, letters, staff

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]
LOST, SURVIVOR = "GBLALA", "GBLGWA"


def test_two_leads_fail_a_site_over_in_the_browser(
    node: Container, server: str, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shots = Path(os.environ.get(SHOTS_VARIABLE) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    item = letters(node, 1, 0)[0]
    sup = staff(node, "supervisor", LOST, "api.sup")
    accept(node.site_ops, sup.principal, LOST, [Scan(item.id, item.weight_g)])
    bag = rcp.open_receptacle(node.site_ops, sup.principal, LOST, **SERIES)
    user(node, "olga", "ops", None)
    user(node, "otto", "ops", None)
    olga = browser.new_context(viewport=SIZES["small"]).new_page()
    otto = browser.new_context(viewport=SIZES["small"]).new_page()
    _enrol_then_sign_in_again(node, olga, server, "olga")
    _enrol_then_sign_in_again(node, otto, server, "otto")

    olga.goto(f"{server}/console/failovers")
    _check(olga, shots, "ops-failovers-empty", both=False)
    olga.select_option("#from-site", LOST)
    olga.select_option("#to-site", SURVIVOR)
    olga.fill("#failover-reason", "ransomware at Heathrow")
    olga.get_by_role("button", name="Ask to fail over").click()
    olga.wait_for_url(re.compile(r".*/console/failovers$"))
    expect(olga.locator("main")).to_contain_text("waiting for a second operations lead")
    assert olga.get_by_role("button", name=re.compile("^Confirm")).count() == 0
    _check(olga, shots, "ops-failover-pending")

    otto.goto(f"{server}/console/failovers")
    otto.get_by_role("button", name=re.compile("^Confirm failover")).click()
    otto.wait_for_url(re.compile(r".*/console/failovers$"))
    expect(otto.locator("main")).to_contain_text(f"{LOST} fails over to {SURVIVOR}")
    expect(otto.locator("main")).to_contain_text(bag.id)
    _check(otto, shots, "ops-failover-active")
