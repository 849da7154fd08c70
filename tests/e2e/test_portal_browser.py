"""A sender's day in Debian's Chromium: sign in, upload a manifest with three bad rows, see
the three refusals, fix them, upload again, print one PDF of every label (each barcode
decodes), download the collection manifest. Two senders in two browser contexts see
nothing of each other. axe-core runs on every portal page (no serious or critical
violations); screenshots go to POSTEX_PORTAL_SHOTS (``docs/portal`` for the committed ones,
else a temporary folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from postex.bootstrap import Container
from postex.kernel.ids import S10
from tests.factories import new_items
from tests.pdf.pdfcheck import all_text, barcodes, open_pdf
from tests.portal.helpers import BREAKS, PASSWORD, manifest_csv, sender

pytestmark = pytest.mark.browser
SHOTS_VARIABLE = "POSTEX_PORTAL_SHOTS"
VIEWPORT = {"width": 1280, "height": 800}
BAD = {5: "addressee_country", 23: "weight_g", 40: "sender_name"}  # CSV lines


def _no_serious_violations(page: Any, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    bad = [
        (v["id"], v["impact"], v["help"]) for v in found if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{name}: {bad}"


def _shots(tmp_path: Path) -> Path:
    shots = Path(os.environ.get(SHOTS_VARIABLE) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def _look(page: Any, shots: Path, name: str, full: bool = False) -> None:
    """Check the page with axe, then photograph it."""
    _no_serious_violations(page, name)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=full)


def _sign_in(page: Any, server: str, username: str) -> None:
    page.goto(f"{server}/portal")
    page.wait_for_url("**/portal/sign-in")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/portal/items")


def _upload(page: Any, name: str, data: bytes) -> None:
    page.set_input_files("#file", {"name": name, "mimeType": "text/csv", "buffer": data})
    page.click("main form[enctype] button[type=submit]")


def _download(page: Any, click: str, tmp_path: Path, name: str) -> bytes:
    with page.expect_download() as info:
        page.click(click)
    target = tmp_path / name
    info.value.save_as(str(target))
    return target.read_bytes()


PRINTER_DPI = 203  # a thermal label printer's resolution


def _label_ids(pdf: bytes) -> list[str]:
    """Every barcode on the 4×6 label pages, in page order, read off each page rasterised
    at the label printer's resolution. (At 200 dpi zxing-cpp also reads a second, wrong
    text off one label of this batch: its bars fall on half pixels there.)"""
    import numpy as np
    import zxingcpp

    found = []
    for page in open_pdf(pdf):
        if page.rect.width < 300:
            pix = page.get_pixmap(dpi=PRINTER_DPI)
            image = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
            codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128)
            assert len(codes) == 1, [c.text for c in codes]
            found.append(codes[0].text)
    return found


@pytest.mark.sqlite_only
def test_a_senders_day(node: Container, server: str, browser: Any, tmp_path: Path) -> None:
    sender(node, "Thistle & Thread Ltd", "anna")
    shots = _shots(tmp_path)
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{server}/portal/items")
    page.wait_for_url("**/portal/sign-in")
    _look(page, shots, "sign-in")
    _sign_in(page, server, "anna")

    page.click("nav >> text=Manifests")
    page.wait_for_url("**/portal/manifests")
    _look(page, shots, "manifest-upload")
    _upload(page, "today.csv", manifest_csv(50, BAD))
    page.locator("#refusals").wait_for()
    rows = page.locator("#refusals tbody tr")
    assert rows.count() == 3
    seen = {(int(rows.nth(i).locator("td").nth(0).inner_text()),
             rows.nth(i).locator("td").nth(1).inner_text(),
             rows.nth(i).locator("td").nth(3).inner_text()) for i in range(3)}  # fmt: skip
    assert seen == {(line, column, BREAKS[column][0]) for line, column in BAD.items()}
    for i in range(3):
        assert rows.nth(i).locator("td").nth(2).inner_text()  # the rule's name
    _look(page, shots, "manifest-refusals", full=True)

    _upload(page, "today.csv", manifest_csv(50))
    page.locator("#stored").wait_for()
    assert "50 items stored" in page.locator("#stored").inner_text()
    stored = set(re.findall(r"[A-Z]{2}\d{9}[A-Z]{2}", page.locator("main table").inner_text()))
    assert len(stored) == 50
    _look(page, shots, "manifest-stored")
    batch = _download(page, "text=Print these 50 labels", tmp_path, "labels.pdf")
    printed = _label_ids(batch)
    assert len(printed) == 50
    assert sorted(printed) == sorted(stored)  # every label's barcode decodes to its item

    page.click("nav >> text=Items")
    page.wait_for_url("**/portal/items")
    _look(page, shots, "items")
    page.fill("#q-reference", "ORD-00007")
    page.click("form.search button")
    page.wait_for_url("**reference=ORD-00007**")
    page.click("main table a")
    page.wait_for_url(re.compile(r".*/portal/items/[A-Z]{2}\d{9}[A-Z]{2}$"))
    assert "ORD-00007" in page.inner_text("main")
    _look(page, shots, "item")

    page.click("nav >> text=New item")
    page.wait_for_url("**/portal/items/new")
    _no_serious_violations(page, "new-item")
    page.fill("#f-weight_g", "heavy")
    page.fill("#f-addressee_name", "Bartholomew Quincey")
    page.click("main form button[type=submit]")
    page.locator("#e-weight_g").wait_for()
    assert "rule" in page.inner_text("#e-weight_g")
    _look(page, shots, "new-item-problems")

    page.click("nav >> text=Labels")
    page.wait_for_url("**/portal/labels")
    _look(page, shots, "labels")

    page.click("nav >> text=Collection")
    page.wait_for_url("**/portal/collection")
    _look(page, shots, "collection")
    manifest = _download(page, "text=Collection manifest (PDF)", tmp_path, "collection.pdf")
    doc = open_pdf(manifest)
    assert sorted(code for p in doc for code in barcodes(p)) == sorted(stored)
    assert "Thistle & Thread Ltd" in all_text(doc)

    page.goto(f"{server}/portal/manifests/mapping")
    _look(page, shots, "column-mapping")

    page.click("nav >> text=API keys")
    page.wait_for_url("**/portal/api-keys")
    page.click("text=Create a new key")
    page.locator("#secret").wait_for()
    assert re.search(r"pxk_[0-9a-f]+_", page.inner_text("#secret"))
    # The picture for the docs shows where the key appears, not a key.
    page.evaluate("document.querySelector('#secret code').textContent = 'pxk_…_…'")
    _look(page, shots, "api-keys")

    page.click("nav >> text=Webhooks")
    page.wait_for_url("**/portal/webhooks")
    page.fill("#url", "https://shop.example/postex-hook")
    page.click("main form button[type=submit]")
    page.locator("#secret").wait_for()
    page.evaluate("document.querySelector('#secret code').textContent = 'whsec_…'")
    _look(page, shots, "webhooks")
    page.click("main table a")
    page.wait_for_url("**/portal/webhooks/whk_*")
    _no_serious_violations(page, "webhook")

    page.click("nav >> text=Second factor")
    page.wait_for_url("**/portal/totp/enrol")
    _no_serious_violations(page, "enrol")
    page.goto(f"{server}/portal/items/{S10.issue('LA', 99999999, 'GB')}")
    _look(page, shots, "not-found")
    context.close()


@pytest.mark.sqlite_only
def test_two_senders_in_two_browsers_see_nothing_of_each_other(
    node: Container, server: str, browser: Any
) -> None:
    anna = sender(node, "Thistle & Thread Ltd", "anna")
    bob = sender(node, "Brick Lane Books", "bob")
    annas = {i.id for i in new_items(node, anna.customer_id, 3)}
    bobs = {i.id for i in new_items(node, bob.customer_id, 2, reference="BOB-SECRET")}
    pages = {}
    for name in ("anna", "bob"):
        context = browser.new_context(viewport=VIEWPORT)
        pages[name] = context.new_page()
        _sign_in(pages[name], server, name)
    anna_page, bob_page = pages["anna"], pages["bob"]

    def listed(page: Any) -> set[str]:
        return set(re.findall(r"[A-Z]{2}\d{9}[A-Z]{2}", page.inner_text("main")))

    assert listed(anna_page) == annas
    assert listed(bob_page) == bobs
    assert "BOB-SECRET" not in anna_page.content()
    foreign = sorted(bobs)[0]
    answer = anna_page.goto(f"{server}/portal/items/{foreign}")
    assert answer.status == 404
    foreign_text = anna_page.inner_text("main").replace(foreign, "X")
    missing = str(S10.issue("LA", 99999999, "GB"))
    assert anna_page.goto(f"{server}/portal/items/{missing}").status == 404
    assert anna_page.inner_text("main").replace(missing, "X") == foreign_text
    anna_page.goto(f"{server}/portal/items?reference=BOB-SECRET")
    assert not listed(anna_page)
    bob_page.goto(f"{server}/portal/items/{foreign}")
    assert "BOB-SECRET" in bob_page.inner_text("main")
    for page in pages.values():
        page.context.close()
