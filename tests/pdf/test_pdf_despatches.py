from __future__ import annotations

from datetime import date

import pytest

from postex.kernel.errors import ValidationError
from postex.pdf import DespatchBillData, ReceptacleLine, render_despatch_bill
from tests.pdf.pdfcheck import (
    HEATHROW,
    JFK,
    all_text,
    assert_laid_out_cleanly,
    barcodes,
    open_pdf,
    text,
)

DESPATCH = "GBLALAUSJFKAAUN40001"


def receptacle(serial: int, weight_hg: int = 123, items: int = 40) -> ReceptacleLine:
    last = f"{serial:03d}00{weight_hg:04d}"
    return ReceptacleLine(DESPATCH + last, gross_weight_hg=weight_hg, item_count=items)


def bill(form: str = "CN38", count: int = 3) -> DespatchBillData:
    return DespatchBillData(
        form=form,  # type: ignore[arg-type]
        despatch_id=DESPATCH,
        origin=HEATHROW,
        destination=JFK,
        despatched_on=date(2024, 5, 1),
        receptacles=tuple(receptacle(n, 100 + n, n) for n in range(1, count + 1)),
        carrier="BA",
        flight="BA0117",
    )


@pytest.mark.parametrize(("form", "title"), [("CN38", "DELIVERY BILL"), ("CN31", "LETTER BILL")])
def test_bill_barcode_scans_as_the_despatch_id(form: str, title: str) -> None:
    """Either form's Code 128 decodes to the 20-character S8 id, under the form's own title."""
    page = open_pdf(render_despatch_bill(bill(form)))[0]
    assert barcodes(page) == [DESPATCH]
    assert title in text(page)
    assert form.replace("CN", "CN ") in text(page)


def test_bill_lists_receptacles_and_totals() -> None:
    """Header facts, each receptacle's S9 id, weight and item count, then the totals."""
    page = open_pdf(render_despatch_bill(bill()))[0]
    page_text = text(page)
    for expected in (
        "GBLALA Heathrow Worldwide Distribution Centre",
        "USJFKA New York JFK",
        "2024-05-01",
        "0001 (year digit 4)",
        "A – Priority / airmail",
        "UN – Letter post",
        "BA BA0117",
        DESPATCH + "001000101",
        DESPATCH + "003000103",
        "10.1",
        "10.3",
        "Total: 3 receptacles",
        "30.6",
    ):
        assert expected in page_text
    assert_laid_out_cleanly(page)


def test_long_bill_flows_onto_pages_with_every_receptacle_once() -> None:
    """Two hundred receptacles span pages; each appears exactly once, totals on the last."""
    document = open_pdf(render_despatch_bill(bill(count=200)))
    assert len(document) >= 4
    whole = all_text(document)
    for n in range(1, 201):
        assert whole.count(receptacle(n, 100 + n).receptacle_id) == 1
    for number, page in enumerate(document, start=1):
        assert f"CN38 {DESPATCH} · page {number}" in text(page)
        assert_laid_out_cleanly(page)
    assert "Total: 200 receptacles" in text(document[-1])
    assert "20100" in text(document[-1])


def test_receptacle_of_another_despatch_is_refused() -> None:
    """A bill lists only receptacles whose S9 id starts with its S8 id."""
    stranger = ReceptacleLine("GBLALAUSJFKAAUN40002001000123", 123, 1)
    with pytest.raises(ValidationError):
        DespatchBillData("CN38", DESPATCH, HEATHROW, JFK, date(2024, 5, 1), (stranger,))


def test_unknown_form_is_refused() -> None:
    """Only CN38 and CN31 are printed by this renderer."""
    with pytest.raises(ValidationError):
        bill(form="CN37")
