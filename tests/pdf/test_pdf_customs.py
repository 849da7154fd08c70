from __future__ import annotations

import dataclasses

from postex.pdf import Category, Cn23Data, TaxReference, TaxScheme, render_cn23
from tests.pdf.pdfcheck import (
    ADDRESSEE,
    CATEGORY,
    MUG,
    SENDER,
    SHIRTS,
    SIGNED_ON,
    all_text,
    assert_laid_out_cleanly,
    barcodes,
    open_pdf,
    text,
)

ITEM = "CP123456785GB"
CN23 = Cn23Data(
    item_id=ITEM,
    sender=SENDER,
    addressee=ADDRESSEE,
    category=CATEGORY,
    lines=(SHIRTS, MUG),
    currency="EUR",
    gross_weight_g=1100,
    postal_charges_minor=1599,
    signed_on=SIGNED_ON,
    signatory="A. Sender",
    importer_references=(
        TaxReference(TaxScheme.EORI, "DE123456789012345"),
        TaxReference(TaxScheme.IOSS, "IM2760000001"),
    ),
    licence_numbers=("LIC-1", "LIC-2"),
    certificate_numbers=("CERT-9",),
    invoice_number="INV-42",
    comments="Keep dry; no quarantine items",
)


def test_cn23_barcode_scans_as_the_item_id() -> None:
    """The Code 128 on page 1 decodes, at 200 dpi, to exactly the S10 id."""
    assert barcodes(open_pdf(render_cn23(CN23))[0]) == [ITEM]


def test_cn23_prints_parties_references_lines_and_totals() -> None:
    """Every declared field of the CN23 appears in the page text."""
    document = open_pdf(render_cn23(CN23))
    assert len(document) == 1
    assert (round(document[0].rect.width), round(document[0].rect.height)) == (595, 842)
    page_text = text(document[0])
    for expected in (
        "CN 23",
        "CP 123 456 785 GB",
        "Alice Sender",
        "UNITED KINGDOM",
        "Åsa Müller",
        "GERMANY",
        "EORI DE123456789012345; IOSS IM2760000001",
        "Cotton T-shirt, men's, size L",
        "Ceramic mug, boxed",
        "610910",
        "691200",
        "12.50",
        "8.99",
        "EUR",
        "Total (2 lines)",
        "0.680",
        "21.49",
        "Total gross weight: 1.100 kg",
        "Total value: 21.49 EUR",
        "Postal charges/fees: 15.99 EUR",
        "Licence no(s).: LIC-1, LIC-2",
        "Certificate no(s).: CERT-9",
        "Invoice no.: INV-42",
        "Comments: Keep dry; no quarantine items",
        "Date and sender's signature: 2024-05-01",
    ):
        assert expected in page_text
    assert_laid_out_cleanly(document[0])


def test_many_lines_flow_onto_continuation_pages_each_printed_once() -> None:
    """A 120-line declaration spans pages; every line prints exactly once, totals at the end."""
    lines = tuple(
        dataclasses.replace(SHIRTS, description=f"Widget model {n:03d}") for n in range(120)
    )
    document = open_pdf(render_cn23(dataclasses.replace(CN23, lines=lines)))
    assert len(document) >= 3
    whole = all_text(document)
    for n in range(120):
        assert whole.count(f"Widget model {n:03d}") == 1
    for number, page in enumerate(document, start=1):
        page_text = text(page)
        assert f"CN 23 {ITEM} · page {number}" in page_text
        assert "Detailed description of contents" in page_text or number == len(document)
        assert_laid_out_cleanly(page)
    assert "CN 23 (continued) — item CP 123 456 785 GB" in text(document[1])
    last = text(document[-1])
    assert "Total (120 lines)" in last
    assert "1500.00" in last
    assert "Invoice no.: INV-42" in last


def test_documents_without_goods_lines_render() -> None:
    """Documents need no goods lines; the form still renders with zero totals."""
    documents = dataclasses.replace(CN23, category=Category.DOCUMENTS, lines=())
    page_text = text(open_pdf(render_cn23(documents))[0])
    assert "Total (0 lines)" in page_text
    assert "Total value: 0.00 EUR" in page_text


def test_other_category_prints_its_explanation() -> None:
    """Category "other" carries its explanation onto the form."""
    other = dataclasses.replace(
        CN23, category=Category.OTHER, category_explanation="Replacement part under warranty"
    )
    assert "Explanation: Replacement part under warranty" in text(open_pdf(render_cn23(other))[0])
