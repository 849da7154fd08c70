"""A sender maps its shop export's headers once; later uploads of that export are read
through the mapping, with refusals named by our columns and the file's own lines."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.items.app.column_mapping import column_mapping
from tests.factories import SITE
from tests.portal.helpers import HEADER, csrf_of, manifest_csv, portal_sign_in, sender

# The shop's own name for each of our columns, and a column we do not know.
SHOP = {c: f"Shop {c.replace('_', ' ').title()}" for c in HEADER}


def shop_export(n: int, bad: dict[int, str] | None = None) -> bytes:
    """``manifest_csv`` with the shop's headers and an extra column of its own."""
    rows = list(csv.reader(io.StringIO(manifest_csv(n, bad).decode())))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["Order total", *(SHOP[h] for h in rows[0])])
    for row in rows[1:]:
        w.writerow(["12.50", *row])
    return out.getvalue().encode()


def test_a_saved_mapping_reads_a_foreign_csv(node: Container, browser_client: TestClient) -> None:
    anna = sender(node, "Thistle & Thread Ltd", "anna")
    portal_sign_in(browser_client, "anna")
    page = browser_client.get("/portal/manifests")
    assert "Map them once" in page.text
    csrf = csrf_of(page.text)
    files = {"file": ("shop.csv", shop_export(3), "text/csv")}
    unmapped = browser_client.post("/portal/manifests", data={"csrf_token": csrf}, files=files)
    assert unmapped.status_code == 422
    assert "unknown_field" in unmapped.text

    form = {"csrf_token": csrf, **{f"map-{c}": SHOP[c] for c in HEADER}}
    saved = browser_client.post("/portal/manifests/mapping", data=form)
    assert saved.status_code == 303
    assert column_mapping(node.ctx, anna.customer_id) == SHOP
    events = [e.data for e in node.store.read_events(SITE) if e.type == "audit.recorded.v1"]
    assert events[-1]["action"] == "customer.column_mapping_saved"

    upload = browser_client.get("/portal/manifests")
    assert 'id="mapped" name="mapped" checked' in upload.text
    bad = browser_client.post("/portal/manifests", data={"csrf_token": csrf, "mapped": "on"},
                              files={"file": ("shop.csv", shop_export(5, {3: "weight_g"}),
                                              "text/csv")})  # fmt: skip
    assert bad.status_code == 422
    assert '<td class="num">3</td><td>weight_g</td><td>type</td><td>heavy</td>' in bad.text
    files = {"file": ("shop.csv", shop_export(5), "text/csv")}
    good = browser_client.post("/portal/manifests", data={"csrf_token": csrf, "mapped": "on"},
                               files=files)  # fmt: skip
    assert good.status_code == 201
    assert "5 items stored" in good.text


def test_a_mapping_with_a_header_twice_is_refused_by_field(
    node: Container, browser_client: TestClient
) -> None:
    anna = sender(node, "Thistle & Thread Ltd", "anna")
    portal_sign_in(browser_client, "anna")
    csrf = csrf_of(browser_client.get("/portal/manifests/mapping").text)
    form = {"csrf_token": csrf, "map-weight_g": "Weight", "map-quantity": "Weight"}
    r = browser_client.post("/portal/manifests/mapping", data=form)
    assert r.status_code == 422
    assert 'id="e-quantity"' in r.text and "duplicate_header" in r.text
    assert column_mapping(node.ctx, anna.customer_id) == {}
    forged = browser_client.post("/portal/manifests/mapping", data={"map-weight_g": "W"})
    assert forged.status_code == 403
    assert column_mapping(node.ctx, anna.customer_id) == {}
