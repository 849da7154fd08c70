from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postex.kernel.errors import ValidationError
from postex.pdf import Address, Cn22Data, ContentsLine, LabelData, render_label
from tests.pdf.pdfcheck import (
    ADDRESSEE,
    CATEGORY,
    MUG,
    SENDER,
    SHIRTS,
    SIGNED_ON,
    assert_laid_out_cleanly,
    barcodes,
    open_pdf,
    text,
)

ITEM = "LA123456785GB"
CN22 = Cn22Data(
    category=CATEGORY,
    lines=(SHIRTS, MUG),
    currency="GBP",
    gross_weight_g=900,
    signed_on=SIGNED_ON,
    signatory="A. Sender",
)


def label(**changes: object) -> LabelData:
    base = LabelData(
        item_id=ITEM,
        service="International Tracked",
        sender=SENDER,
        addressee=ADDRESSEE,
        weight_g=900,
        cn22=CN22,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_label_barcode_scans_as_the_item_id() -> None:
    """The Code 128 on the label decodes, at 200 dpi, to exactly the S10 id."""
    page = open_pdf(render_label(label()))[0]
    assert barcodes(page) == [ITEM]


def test_label_is_a_single_4x6_inch_page() -> None:
    """The label is one 288×432 pt page."""
    document = open_pdf(render_label(label()))
    assert len(document) == 1
    assert (document[0].rect.width, document[0].rect.height) == (288, 432)


def test_label_prints_id_service_weight_and_both_parties() -> None:
    """Id (grouped as UPU prints it), service, weight and both addresses, country in capitals."""
    page_text = text(open_pdf(render_label(label(cn22=None)))[0])
    for expected in (
        "LA 123 456 785 GB",
        "International Tracked",
        "0.900 kg",
        "Alice Sender",
        "LONDON SW1A 1AA",
        "UNITED KINGDOM",
        "Åsa Müller",
        "Königstraße 12",
        "10115 BERLIN",
        "GERMANY",
    ):
        assert expected in page_text


def test_label_without_cn22_has_no_customs_declaration() -> None:
    """No CN22 data, no customs block."""
    assert "CN 22" not in text(open_pdf(render_label(label(cn22=None)))[0])


def test_cn22_prints_every_line_and_the_totals() -> None:
    """Each goods line's description, quantity, weight, value, HS code and origin; then totals."""
    page_text = text(open_pdf(render_label(label()))[0])
    assert "CUSTOMS DECLARATION CN 22" in page_text
    for expected in (
        "Cotton T-shirt, men's, size L",
        "Ceramic mug, boxed",
        "610910",
        "691200",
        "PT",
        "0.250",
        "0.430",
        "12.50",
        "8.99",
        "Total (2 lines)",
        "0.680",
        "Total gross weight 0.900 kg",
        "Total value 21.49 GBP",
        "Date and sender's signature: 2024-05-01",
        "A. Sender",
    ):
        assert expected in page_text
    for category in ("Gift", "Documents", "Commercial sample", "Returned goods", "Sale of goods"):
        assert category in page_text


def test_cn22_counts_lines_that_do_not_fit_and_totals_all_of_them() -> None:
    """Thirty lines cannot fit on a label: the rest are counted, the totals cover all thirty."""
    many = tuple(dataclasses.replace(SHIRTS, description=f"Shirt {n}") for n in range(30))
    page = open_pdf(render_label(label(cn22=dataclasses.replace(CN22, lines=many))))[0]
    page_text = text(page)
    assert "Shirt 0" in page_text
    assert "Shirt 29" not in page_text
    assert "more line(s): on the CN23" in page_text
    assert "Total (30 lines)" in page_text
    assert "375.00" in page_text
    assert_laid_out_cleanly(page)


def test_country_survives_an_address_too_long_for_the_label() -> None:
    """Street lines are cut before the addressee's country, which always prints."""
    crowded = dataclasses.replace(ADDRESSEE, lines=tuple(f"Line {n} " * 8 for n in range(12)))
    page = open_pdf(render_label(label(addressee=crowded)))[0]
    assert "GERMANY" in text(page)
    assert_laid_out_cleanly(page)


def test_characters_no_font_can_draw_become_question_marks() -> None:
    """Han characters, absent from the bundled fonts, are replaced instead of failing the label."""
    named = dataclasses.replace(ADDRESSEE, name="Li 北京")
    assert "Li ??" in text(open_pdf(render_label(label(addressee=named)))[0])


def test_same_label_renders_to_the_same_bytes() -> None:
    """Rendering is deterministic: no timestamps or random ids in the PDF."""
    assert render_label(label()) == render_label(label())


@pytest.mark.parametrize(
    "bad", ["LA123456785G", "la123456785gb", "LA1234567850GB", "LA12345678ÉGB"]
)
def test_a_malformed_item_id_is_refused(bad: str) -> None:
    """An id that is not S10-shaped never reaches the barcode."""
    with pytest.raises(ValidationError):
        label(item_id=bad)


def test_a_negative_weight_is_refused() -> None:
    """Negative amounts are rejected when the record is built."""
    with pytest.raises(ValidationError):
        dataclasses.replace(SHIRTS, net_weight_g=-1)


any_text = st.text(st.characters(codec="utf-8"), max_size=400)
long_text = st.one_of(any_text, any_text.map(lambda s: s * 20))
addresses = st.builds(
    Address,
    name=long_text,
    lines=st.lists(long_text, max_size=6).map(tuple),
    city=long_text,
    postcode=any_text,
    country=any_text,
    company=long_text,
    phone=any_text,
    email=any_text,
)
contents = st.builds(
    ContentsLine,
    description=long_text,
    quantity=st.integers(0, 10**6),
    net_weight_g=st.integers(0, 10**7),
    value_minor=st.integers(0, 10**10),
    hs_code=any_text,
    origin_country=any_text,
)
declarations = st.builds(
    Cn22Data,
    category=st.sampled_from(list(type(CATEGORY))),
    lines=st.lists(contents, max_size=12).map(tuple),
    currency=st.sampled_from(["GBP", "EUR", "JPY", "KWD"]),
    gross_weight_g=st.integers(0, 10**7),
    signed_on=st.dates(),
    signatory=long_text,
    category_explanation=long_text,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    service=long_text,
    sender=addresses,
    addressee=addresses,
    cn22=st.one_of(st.none(), declarations),
)
def test_any_text_gives_one_clean_page_that_still_scans(
    service: str, sender: Address, addressee: Address, cn22: Cn22Data | None
) -> None:
    """Any Unicode, however long or exotic, renders one page, inside it, unoverlapped, scannable."""
    document = open_pdf(
        render_label(label(service=service, sender=sender, addressee=addressee, cn22=cn22))
    )
    assert len(document) == 1
    assert_laid_out_cleanly(document[0])
    assert barcodes(document[0]) == [ITEM]
