"""Label and CN23 PDFs through the API: a real barcode reader and text extraction read them."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest
import zxingcpp
from fastapi.testclient import TestClient

from tests.factories import DOCUMENTS_LETTER, Caller, item_payload

DPI = 200


def read_pdf(data: bytes) -> pymupdf.Document:
    assert data.startswith(b"%PDF-")
    return pymupdf.open(stream=data, filetype="pdf")


def code128(page: pymupdf.Page) -> list[str]:
    pix = page.get_pixmap(dpi=DPI)
    image = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    return [s.text for s in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128)]


def words(document: pymupdf.Document) -> str:
    return " ".join(" ".join(str(page.get_text()).split()) for page in document)


def create(client: TestClient, who: Caller, body: dict[str, object]) -> str:
    r = client.post("/api/v1/items", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.mark.sqlite_only
def test_label_barcode_decodes_to_the_s10_id_and_shows_the_cn22(
    client: TestClient, alice: Caller
) -> None:
    """The 4×6 label's Code 128 reads back as the S10 id; the CN22 lists the contents."""
    item_id = create(client, alice, item_payload())
    r = client.get(f"/api/v1/items/{item_id}/label.pdf", headers=alice.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    doc = read_pdf(r.content)
    page = doc[0]
    assert (round(page.rect.width), round(page.rect.height)) == (288, 432)
    assert code128(page) == [item_id]
    text = words(doc)
    assert "Cotton T-shirt" in text
    assert "610910" in text
    assert "Bartholomew Quincey" in text
    assert "CN 22" in text or "CN22" in text


@pytest.mark.sqlite_only
def test_cn23_for_a_parcel_carries_barcode_and_contents(client: TestClient, alice: Caller) -> None:
    """A parcel's CN23 is A4, decodes to the S10 id and lists the declared goods."""
    body = item_payload(service="parcel")
    body["contents"]["lines"][0]["description"] = "Merino wool jumper"
    item_id = create(client, alice, body)
    r = client.get(f"/api/v1/items/{item_id}/cn23.pdf", headers=alice.headers)
    assert r.status_code == 200
    doc = read_pdf(r.content)
    assert (round(doc[0].rect.width), round(doc[0].rect.height)) == (595, 842)
    assert item_id in code128(doc[0])
    assert "Merino wool jumper" in words(doc)
    assert "IM1234567890" in words(doc)


@pytest.mark.sqlite_only
def test_cn23_of_an_item_without_one_is_409(client: TestClient, alice: Caller) -> None:
    """A CN22 item and a documents letter have no CN23: 409 problem with rule no_cn23."""
    for body, form in ((item_payload(), "CN22"), (DOCUMENTS_LETTER, None)):
        item_id = create(client, alice, body)
        r = client.get(f"/api/v1/items/{item_id}/cn23.pdf", headers=alice.headers)
        assert r.status_code == 409
        assert (r.json()["rule"], r.json()["customs_form"]) == ("no_cn23", form)


@pytest.mark.sqlite_only
def test_cancelled_item_has_no_label(client: TestClient, alice: Caller) -> None:
    """Printing the label of a cancelled item is refused with 409."""
    item_id = create(client, alice, item_payload())
    client.delete(f"/api/v1/items/{item_id}", headers=alice.headers)
    r = client.get(f"/api/v1/items/{item_id}/label.pdf", headers=alice.headers)
    assert r.status_code == 409
    assert r.json()["rule"] == "cancelled"


@pytest.mark.sqlite_only
def test_twelve_goods_lines_get_a_cn23_with_all_twelve_on_paper(
    client: TestClient, alice: Caller
) -> None:
    """More lines than a CN22 holds (3): the item gets a CN23 and every line is printed on it."""
    body = item_payload()
    line = body["contents"]["lines"][0]
    body["contents"]["lines"] = [
        {
            **line,
            "description": f"Cotton T-shirt style {n:02d}",
            "value_minor": 500,
            "net_weight_g": 50,
        }
        for n in range(12)
    ]
    item_id = create(client, alice, body)
    item = client.get(f"/api/v1/items/{item_id}", headers=alice.headers).json()
    assert item["customs_form"] == "CN23"
    r = client.get(f"/api/v1/items/{item_id}/cn23.pdf", headers=alice.headers)
    assert r.status_code == 200, r.text
    text = words(read_pdf(r.content))
    for n in range(12):
        assert f"Cotton T-shirt style {n:02d}" in text
    assert "Total (12 lines)" in text
    assert "Designated operator: Royal Mail" in text
    origin = "Office of origin / date of posting: Heathrow Worldwide Distribution Centre"
    assert f"{origin} (Langley) (GBLALA)" in text
    label = words(
        read_pdf(client.get(f"/api/v1/items/{item_id}/label.pdf", headers=alice.headers).content)
    )
    assert "CN 22" not in label


@pytest.mark.sqlite_only
def test_three_goods_lines_still_fit_a_cn22_on_the_label(client: TestClient, alice: Caller) -> None:
    """Three lines under the value threshold keep the CN22, and all three print on the label."""
    body = item_payload()
    line = body["contents"]["lines"][0]
    body["contents"]["lines"] = [
        {**line, "description": f"Wool scarf pattern {n}", "value_minor": 500, "net_weight_g": 50}
        for n in range(3)
    ]
    item_id = create(client, alice, body)
    r = client.get(f"/api/v1/items/{item_id}/label.pdf", headers=alice.headers)
    text = words(read_pdf(r.content))
    assert "CUSTOMS DECLARATION CN 22" in text
    for n in range(3):
        assert f"Wool scarf pattern {n}" in text
    assert "more line(s)" not in text


@pytest.mark.sqlite_only
def test_a_cn22_item_from_before_the_line_rule_gets_its_cn23(
    client: TestClient, alice: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pre-advised as CN22 with 12 lines (as before the rule): the CN23 prints all 12."""
    import dataclasses

    from postex.items.domain import customs

    old = dataclasses.replace(customs.customs_rules(), cn22_max_lines=99)
    monkeypatch.setattr(customs, "customs_rules", lambda: old)
    body = item_payload()
    line = body["contents"]["lines"][0]
    body["contents"]["lines"] = [
        {**line, "description": f"Linen napkin {n:02d}", "value_minor": 500, "net_weight_g": 50}
        for n in range(12)
    ]
    item_id = create(client, alice, body)
    monkeypatch.undo()
    assert (
        client.get(f"/api/v1/items/{item_id}", headers=alice.headers).json()["customs_form"]
        == "CN22"
    )
    label = words(
        read_pdf(client.get(f"/api/v1/items/{item_id}/label.pdf", headers=alice.headers).content)
    )
    r = client.get(f"/api/v1/items/{item_id}/cn23.pdf", headers=alice.headers)
    assert r.status_code == 200, r.text
    text = words(read_pdf(r.content))
    assert all(f"Linen napkin {n:02d}" in text for n in range(12))
    assert "Linen napkin 00" in label
