"""A clerk's shift and a supervisor's despatch, in Debian's Chromium.

The clerk scans 200 pre-advised items (and three nobody pre-advised) through a simulated
keyboard wedge (the S10 typed, then Enter), sees green, red and amber, bags them as "which
bag?" says, closes a bag and prints its CN35, whose S9 barcode must decode. The scans go as
fast as the answers come back rather than at a wedge's two a second, to keep the test short.
The supervisor composes a despatch, takes a bag out with a reason, closes the despatch for
a flight, prints the bill and hands it over. axe-core checks every page at 1024×600 and
1920×1080; screenshots go to ``POSTEX_CONSOLE_SHOTS`` (docs/console for the committed ones).
"""

from __future__ import annotations

import copy
import os
import random
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.incidents.app.holds import place_hold
from postex.items.app.preadvice import ItemRecord
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.console.helpers import PASSWORD, SITE, user
from tests.e2e.test_console_browser import SHOTS_VARIABLE, SIZES, _no_serious_violations
from tests.factories import DOCUMENTS_LETTER, ITEM, SERIES, new_customer, new_items, staff
from tests.pdf.pdfcheck import barcodes, open_pdf

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]
DOCS = {k: v for k, v in DOCUMENTS_LETTER.items() if k not in ("importer", "addressee")}
WHERE = {"US": ("New York", "10001", "NY"), "CA": ("Toronto", "M5V 2T6", "ON"),
         "IN": ("New Delhi", "110001", "Delhi"),
         "JP": ("Chiyoda-ku", "100-0001", "Tokyo")}  # fmt: skip


def _letters(node: Container, customer_id: str, country: str, n: int) -> list[ItemRecord]:
    """n documents letters (60 g) to ``country``."""
    city, postcode, region = WHERE[country]
    addressee = {**copy.deepcopy(ITEM["addressee"]), "country": country, "city": city,
                 "postcode": postcode, "region": region}  # fmt: skip
    return new_items(node, customer_id, n, **DOCS, importer=None, addressee=addressee)


def _s10(serial: int) -> str:
    """A well-formed S10 id nobody pre-advised."""
    digits = f"{serial:08d}"
    total = sum(int(d) * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    check = 11 - total % 11
    return f"RR{digits}{ {10: 0, 11: 5}.get(check, check) }GB"


def _shots(tmp_path: Path) -> Path:
    shots = Path(os.environ.get(SHOTS_VARIABLE) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def _check(page: Any, shots: Path, name: str, *, large: bool = True) -> None:
    """axe at both sizes, and a screenshot at each (the large one only when asked)."""
    _no_serious_violations(page, f"{name} 1024x600")
    page.screenshot(path=str(shots / f"{name}-1024x600.png"))
    page.set_viewport_size(SIZES["large"])
    _no_serious_violations(page, f"{name} 1920x1080")
    if large:
        page.screenshot(path=str(shots / f"{name}-1920x1080.png"))
    page.set_viewport_size(SIZES["small"])


def _wedge(page: Any, typed: str, expect: str, item_id: str) -> str:
    """Type the scan as a keyboard wedge does (characters, then Enter) into the focused
    field; the answer for this item, in its colour."""
    assert page.evaluate("document.activeElement.id") == "scan"
    page.keyboard.type(typed)
    page.keyboard.press("Enter")
    answer = page.locator(f'#outcome[data-outcome="{expect}"]').filter(has_text=item_id)
    answer.wait_for(timeout=10_000)
    return str(answer.inner_text())


def test_a_clerks_shift_scans_200_items_bags_them_and_prints_a_cn35(
    node: Container, server: str, browser: Any, tmp_path: Path
) -> None:
    user(node, "clara", "clerk")
    boss = staff(node, "supervisor", name="boss")
    customer = new_customer(node).record.id
    us = _letters(node, customer, "US", 150)
    ca = _letters(node, customer, "CA", 40)
    india = _letters(node, customer, "IN", 9)  # despatched from Birmingham, not here
    [jp] = _letters(node, customer, "JP", 1)
    place_hold(node.ctx, boss.principal, {
        "scope": {"sites": [SITE], "destinations": ["JP"]}, "reason": "airline strike",
        "advisory": "Mail to Japan waits at Heathrow.",
    })  # fmt: skip
    unknown = [_s10(n) for n in (55500001, 55500002, 55500003)]
    scans: list[tuple[str, str]] = [(i.id, "accepted") for i in (*us, *ca, *india)]
    scans += [(jp.id, "held")] + [(u, "refused") for u in unknown]
    random.Random(12).shuffle(scans)
    assert len({i for i, o in scans if o != "refused"}) == 200
    shots = _shots(tmp_path)

    page = browser.new_page(viewport=SIZES["small"])
    page.goto(f"{server}/console/sign-in")
    page.fill("#username", "clara")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/console/sites/{SITE}/accept")
    page.fill("#weight", "60")
    page.focus("#scan")
    series: dict[str, str] = {}
    for n, (item_id, outcome) in enumerate(scans):
        spaced = " ".join([item_id[:2], item_id[2:10], item_id[10:]]).lower()
        typed = spaced if n % 7 == 0 else item_id  # a person typing: lower case, spaces
        text = _wedge(page, typed, outcome, item_id)
        if outcome == "accepted":
            found = re.search(r"\(([A-Z]{6})\), category ([A-D]), subclass ([A-Z]{2})", text)
            series[item_id] = "/".join(found.groups()) if found else "elsewhere"
            assert ("None here" in text) == (found is None)
        elif outcome == "held":
            assert "Mail to Japan waits at Heathrow." in text
        else:
            assert "no pre-advice" in text
    counts = [page.inner_text(f"#count-{o}") for o in ("accepted", "refused", "held")]
    assert counts == ["199", "3", "1"]
    assert {series[i.id] for i in us} == {"USJFKA/A/UN"}
    assert {series[i.id] for i in ca} == {"CAYTOA/A/UN"}
    assert {series[i.id] for i in india} == {"elsewhere"}

    # Bag them as "which bag?" said: one bag per series, opened from the Bags page.
    bags: dict[str, str] = {}
    for key in ("USJFKA/A/UN", "CAYTOA/A/UN"):
        page.goto(f"{server}/console/sites/{SITE}/bags")
        if not bags:
            _check(page, shots, "bags")
        page.select_option("#series", key)
        page.click("text=Open bag")
        page.wait_for_url(re.compile(r".*/bags/rcp_[^/]+$"))
        bags[key] = page.url.rsplit("/", 1)[1]
        for item_id in [i for i, s in series.items() if s == key]:
            _wedge(page, item_id, "accepted", item_id)
        if key == "USJFKA/A/UN":
            refused = _wedge(page, india[0].id, "refused", india[0].id)
            # Indian letters leave from Birmingham: the answer says where to send it.
            assert "rule: transfer_to_site" in refused and "transfer it to GBBHXA" in refused
            _check(page, shots, "bag-refused", large=False)
            never = _wedge(page, jp.id.lower(), "refused", jp.id)  # held at the counter
            assert "rule: state_pre_advised" in never
    assert page.inner_text("#bag-count") == "40"

    page.goto(f"{server}/console/sites/{SITE}/bags/{bags['USJFKA/A/UN']}")
    assert page.inner_text("#bag-count") == "150"
    _check(page, shots, "bag-open")
    page.fill("#gross", "9500")
    page.click("text=Close bag")
    page.wait_for_selector("text=Print CN35 label (PDF)")
    _check(page, shots, "bag-closed")
    href = page.get_attribute("text=Print CN35 label (PDF)", "href")
    label = page.request.get(f"{server}{href}")
    assert label.status == 200
    assert label.headers["content-type"] == "application/pdf"
    assert label.headers["content-disposition"].startswith("inline")
    clerk = staff(node, "clerk", name="api.clerk")
    bag = rcp.get_receptacle(node.site_ops, clerk.principal, SITE, bags["USJFKA/A/UN"])
    assert bag.s9 is not None and bag.item_count == 150
    assert barcodes(open_pdf(label.body())[0]) == [bag.s9]

    # A hold on Canada catches the 40 letters in the open Canada bag: the held queue lists
    # them with their hold, its advisory and the bag to take them out of.
    place_hold(node.ctx, boss.principal, {
        "scope": {"sites": [SITE], "destinations": ["CA"]}, "reason": "customs check",
        "advisory": "Mail to Canada is checked again.",
    })  # fmt: skip
    page.goto(f"{server}/console/sites/{SITE}/held")
    text = page.inner_text("main")
    assert ca[0].id in text and "Mail to Canada is checked again." in text
    assert f"{bags['CAYTOA/A/UN']}: 40 held item(s)" in text
    _check(page, shots, "held-queue")
    rows = dict(execute_raw(node.engine, "SELECT state, count(*) FROM items GROUP BY state"))
    assert rows == {"in_receptacle": 150, "held": 40, "accepted": 9, "pre_advised": 1}


def _closed_bag(node: Container, customer: str, n: int, name: str) -> str:
    clerk = staff(node, "clerk", name=name)
    items = _letters(node, customer, "US", n)
    accept(node.site_ops, clerk.principal, SITE, [Scan(i.id, i.weight_g) for i in items])
    bag = rcp.open_receptacle(node.site_ops, clerk.principal, SITE, **SERIES)
    rcp.add_items(node.site_ops, clerk.principal, SITE, bag.id, [i.id for i in items])
    rcp.close_receptacle(node.site_ops, clerk.principal, SITE, bag.id, 60 * n + 400)
    return bag.id


def test_a_supervisor_composes_takes_a_bag_out_and_hands_the_despatch_over(
    node: Container, server: str, browser: Any, tmp_path: Path
) -> None:
    user(node, "sam", "supervisor")
    customer = new_customer(node).record.id
    first = _closed_bag(node, customer, 3, "clerk.one")
    second = _closed_bag(node, customer, 2, "clerk.two")
    shots = _shots(tmp_path)
    page = browser.new_page(viewport=SIZES["small"])
    page.goto(f"{server}/console/sign-in")
    page.fill("#username", "sam")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/totp/enrol")
    secret = page.inner_text("main code")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_selector("text=Continue to the console")

    page.goto(f"{server}/console/sites/{SITE}/despatches")
    for bag in (first, second):
        assert page.is_checked(f'input[value="{bag}"]')
    _check(page, shots, "despatches")
    page.click("text=Compose despatch")
    page.wait_for_url(re.compile(r".*/despatches/GBLALAUSJFKAAUN\d{5}$"))
    did = page.url.rsplit("/", 1)[1]
    _check(page, shots, "despatch-composed")
    page.fill(f"#reason-{second}", "held item inside")
    page.click(f'form[action$="/receptacles/{second}/remove"] button')
    page.wait_for_load_state()
    assert page.locator(f'a[href$="/bags/{second}"]').count() == 0
    page.fill("#carrier", "ba")
    page.fill("#flight", "ba 0117")
    page.fill("#flight-date", "2026-11-24")
    page.click("text=Close despatch")
    page.wait_for_selector("text=Hand over to the carrier")
    _check(page, shots, "despatch-closed")
    href = page.get_attribute("text=Print CN31 (PDF)", "href")
    bill = page.request.get(f"{server}{href}")
    assert bill.headers["content-type"] == "application/pdf" and bill.body().startswith(b"%PDF")
    page.click("button:text-is('Hand over')")
    page.wait_for_selector("dd.state:text('handed over')")
    _check(page, shots, "despatch-handed-over", large=False)

    page.goto(f"{server}/console/sites/{SITE}/bags/{second}")
    page.fill("#reopen-reason", "take the held item out")
    page.click("text=Reopen bag")
    page.wait_for_selector("#scan")
    rows = dict(execute_raw(node.engine, "SELECT id, state FROM receptacles"))
    assert rows == {first: "in_despatch", second: "open"}
    assert dict(execute_raw(node.engine, "SELECT id, state FROM despatches")) == {
        did: "handed_over"
    }
