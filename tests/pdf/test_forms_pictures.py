"""A label and a CN23 for a US and a Japanese addressee, through the app's Documents adapter.

The text is read back and checked; the pages are also rasterised to PNG, into docs/forms when
``POSTEX_FORMS_SHOTS=docs/forms`` is set (the pictures docs/api.md shows), else a temp folder.
"""

from __future__ import annotations

import copy
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from postex.items.app.preadvice import ItemRecord, ItemView
from postex.items.documents import PdfDocuments
from tests.factories import ITEM
from tests.pdf.pdfcheck import all_text, assert_laid_out_cleanly, barcodes, open_pdf

PRINTED = date(2026, 12, 5)
US = {
    "name": "Bartholomew Quincey",
    "company": "Quincey Imports LLC",
    "address_lines": ["2200 Juniper Boulevard", "Apt 7"],
    "city": "Chicago",
    "region": "IL",
    "postcode": "60601",
    "country": "US",
    "phone": "+1 312 555 0100",
    "email": "bart.quincey@example.com",
}
JP = {
    "name": "Haruki Tanaka",
    "company": "Tanaka Trading K.K.",
    "address_lines": ["1-1 Marunouchi 1-chome", "Marunouchi Building 12F"],
    "city": "Chiyoda-ku",
    "region": "Tokyo",
    "postcode": "100-0001",
    "country": "JP",
    "phone": "+81 3 1234 5678",
}
EXPECTED = {
    "us": ["Quincey Imports LLC", "Apt 7", "CHICAGO, IL 60601", "UNITED STATES"],
    "jp": ["Tanaka Trading K.K.", "Marunouchi Building 12F", "Chiyoda-ku, TOKYO", "100-0001"],
}


def shots() -> Path:
    where = os.environ.get("POSTEX_FORMS_SHOTS")
    return Path(where) if where else Path("/tmp/postex-forms-shots")


def view(item_id: str, addressee: dict[str, Any], form: str, goods: int) -> ItemView:
    personal = copy.deepcopy({k: ITEM[k] for k in ("sender", "contents", "importer")})
    personal["addressee"] = addressee
    line = personal["contents"]["lines"][0]
    personal["contents"]["lines"] = [
        {**line, "description": f"{name}", "net_weight_g": 60, "value_minor": 900}
        for name in (
            "Cotton T-shirt, men's, size L",
            "Wool scarf, tartan",
            "Ceramic mug, boxed",
            "Linen tea towel",
            "Silk tie, navy",
        )[:goods]
    ]
    record = ItemRecord(
        id=item_id,
        customer_id="cus_demo",
        origin_site="GBLALA",
        service="tracked",
        state="pre_advised",
        held_from=None,
        destination=addressee["country"],
        customs_form=form,
        has_goods=True,
        weight_g=850,
        created_at="2026-12-05T09:00:00+00:00",
        updated_at="2026-12-05T09:00:00+00:00",
        sealed="",
    )
    return ItemView(record, personal)


@pytest.mark.parametrize(("key", "addressee"), [("us", US), ("jp", JP)])
def test_label_and_cn23_pictures(key: str, addressee: dict[str, Any]) -> None:
    """Label (CN22, 2 lines) and CN23 (5 lines) in the destination's format, every box read back."""
    docs = PdfDocuments()
    label = open_pdf(docs.label(view("LA123456785GB", addressee, "CN22", 2), PRINTED))
    cn23 = open_pdf(docs.cn23(view("LA123456785GB", addressee, "CN23", 5), PRINTED))
    label_text, cn23_text = all_text(label), all_text(cn23)
    for expected in EXPECTED[key]:
        assert expected in label_text
        assert expected in cn23_text
    assert "International Tracked (letter post)" in label_text
    assert "Designated operator: Royal Mail" in label_text
    assert "Importer's ref.: IOSS IM1234567890" in label_text
    assert "Invoice: INV-77" in label_text
    for box in (
        "Designated operator: Royal Mail",
        "Office of origin / date of posting: Heathrow Worldwide Distribution Centre (Langley)",
        "(GBLALA) / 2026-12-05",
        "Importer's telephone / e-mail:",
        "IOSS IM1234567890",
        "Invoice no.: INV-77",
        "Postal charges/fees:",
        "Licence no(s).:",
        "Certificate no(s).:",
        "Silk tie, navy",
        "Total (5 lines)",
    ):
        assert box in cn23_text
    assert barcodes(label[0]) == ["LA123456785GB"]
    assert barcodes(cn23[0]) == ["LA123456785GB"]
    assert_laid_out_cleanly(label[0])
    folder = shots()
    folder.mkdir(parents=True, exist_ok=True)
    label[0].get_pixmap(dpi=110).save(str(folder / f"label-{key}.png"))
    cn23[0].get_pixmap(dpi=80).save(str(folder / f"cn23-{key}.png"))
