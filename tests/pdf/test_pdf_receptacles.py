from __future__ import annotations

from datetime import date

import pytest

from postex.kernel.errors import ValidationError
from postex.pdf import Cn35Data, Office, render_cn35
from tests.pdf.pdfcheck import HEATHROW, JFK, assert_laid_out_cleanly, barcodes, open_pdf, text

RECEPTACLE = "GBLALAUSJFKAAUN40001002100123"


def cn35(**changes: object) -> Cn35Data:
    fields: dict[str, object] = {
        "receptacle_id": RECEPTACLE,
        "origin": HEATHROW,
        "destination": JFK,
        "gross_weight_hg": 123,
        "carrier": "BA",
        "flight": "BA0117",
        "flight_date": date(2024, 5, 1),
    }
    fields.update(changes)
    return Cn35Data(**fields)  # type: ignore[arg-type]


def test_cn35_barcode_scans_as_the_receptacle_id() -> None:
    """The 29-character S9 id decodes, at 200 dpi, from the bag label's Code 128."""
    assert barcodes(open_pdf(render_cn35(cn35()))[0]) == [RECEPTACLE]


def test_cn35_prints_offices_serials_weight_category_and_flight() -> None:
    """Offices (code and name), despatch and receptacle numbers, kg with one decimal, flight."""
    page = open_pdf(render_cn35(cn35()))[0]
    page_text = text(page)
    for expected in (
        "CN 35",
        "PAR AVION",
        RECEPTACLE,
        "GBLALA",
        "Heathrow Worldwide Distribution Centre",
        "USJFKA",
        "New York JFK",
        "0001",
        "002",
        "12.3 kg",
        "A – Priority / airmail",
        "UN – Letter post",
        "BA BA0117 2024-05-01",
    ):
        assert expected in page_text
    assert_laid_out_cleanly(page)


def test_cn35_over_999_8_kg_prints_the_real_weight() -> None:
    """The id's weight saturates at 9999; the label prints the declared weight."""
    heavy = cn35(receptacle_id=RECEPTACLE[:25] + "9999", gross_weight_hg=10_234)
    assert "1023.4 kg" in text(open_pdf(render_cn35(heavy))[0])


def test_cn35_weight_that_contradicts_the_id_is_refused() -> None:
    """A printed weight must match the weight encoded in the S9 id."""
    with pytest.raises(ValidationError):
        cn35(gross_weight_hg=124)


def test_cn35_office_that_contradicts_the_id_is_refused() -> None:
    """The destination office must be the one the S9 id names."""
    with pytest.raises(ValidationError):
        cn35(destination=Office("FRCDGA", "Paris CDG"))


def test_cn35_long_office_names_stay_on_the_page() -> None:
    """Long names are wrapped and cut; the label stays one clean, scannable page."""
    long = Office("USJFKA", "International Service Center " * 20)
    document = open_pdf(render_cn35(cn35(destination=long, carrier="X" * 300)))
    assert len(document) == 1
    assert_laid_out_cleanly(document[0])
    assert barcodes(document[0]) == [RECEPTACLE]
