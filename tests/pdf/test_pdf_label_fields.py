"""Labels never drop a line delivery needs: every field of both parties, for 30 countries."""

from __future__ import annotations

import dataclasses
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postex.kernel.reference import services
from postex.pdf import Address, Category, Cn22Data, ContentsLine, LabelData, render_label
from tests.pdf.pdfcheck import assert_laid_out_cleanly, barcodes, open_pdf, text

ITEM = "LA123456785GB"
COUNTRIES = (
    "US", "JP", "GB", "DE", "FR", "CA", "AU", "IE", "NL", "CN",
    "IT", "ES", "BR", "IN", "KR", "MX", "CH", "SE", "NO", "DK",
    "PL", "BE", "AT", "NZ", "SG", "HK", "ZA", "AE", "AR", "RU",
)  # fmt: skip
SERVICE_NAMES = sorted(s.name for s in services().by_code.values())

word = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéöñß"),
    min_size=2,
    max_size=12,
)
digits = st.text(st.sampled_from("0123456789"), min_size=1, max_size=5)


def words(low: int, high: int) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(word, digits), min_size=low, max_size=high).map(" ".join)


addresses = st.builds(
    Address,
    name=words(2, 7),  # up to ~90 characters
    lines=st.lists(words(1, 5), min_size=1, max_size=4).map(tuple),
    city=words(1, 3),
    postcode=st.text(st.sampled_from("0123456789ABCDEFGHJK"), min_size=3, max_size=8),
    country=st.sampled_from(COUNTRIES),
    company=words(1, 5),
    region=words(1, 3),
    phone=st.just("+44 20 7946 0000"),
)
goods = st.builds(
    ContentsLine,
    description=words(1, 12),
    quantity=st.integers(1, 999),
    net_weight_g=st.integers(1, 5000),
    value_minor=st.integers(1, 9000),
    hs_code=st.just("610910"),
    origin_country=st.just("GB"),
)
declarations = st.builds(
    Cn22Data,
    category=st.sampled_from(list(Category)),
    lines=st.lists(goods, min_size=1, max_size=3).map(tuple),  # a CN22 holds 3 (customs.json)
    currency=st.just("GBP"),
    gross_weight_g=st.integers(1, 2000),
    signed_on=st.just(date(2026, 12, 4)),
    signatory=words(1, 3),
    operator=st.just("Royal Mail"),
    invoice_number=words(0, 3),
    importer_contact=words(0, 4),
)


def folded(value: str) -> str:
    return " ".join(value.split()).casefold()


def fields(address: Address) -> list[str]:
    return [
        address.name,
        address.company,
        *address.lines,
        address.city,
        address.region,
        address.postcode,
        address.phone,
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sender=addresses.map(lambda a: dataclasses.replace(a, country="GB")),
    addressee=addresses,
    cn22=st.one_of(st.none(), declarations),
    service=st.sampled_from(SERVICE_NAMES),
)
def test_every_field_of_both_parties_and_the_service_name_print(
    sender: Address, addressee: Address, cn22: Cn22Data | None, service: str
) -> None:
    """Long names, four street lines, company and region to 30 countries: all on the label."""
    label = LabelData(ITEM, service, sender, addressee, 400, cn22)
    page = open_pdf(render_label(label))[0]
    page_text = folded(text(page))
    assert folded(service) in page_text
    for value in fields(sender) + fields(addressee):
        assert folded(value) in page_text, value
    if cn22 is not None:
        for line in cn22.lines:
            assert folded(line.description) in page_text
        assert folded(cn22.invoice_number) in page_text
        assert folded(cn22.importer_contact) in page_text
    assert barcodes(page) == [ITEM]
    assert_laid_out_cleanly(page)


QUINCEY = Address(
    name="Bartholomew Quincey",
    company="Quincey Imports LLC",
    lines=("2200 Juniper Boulevard", "Apt 7"),
    city="Chicago",
    region="IL",
    postcode="60601",
    country="US",
)
SENDER = Address(
    name="Alice Sender",
    lines=("1 High Street", "Flat 2"),
    city="London",
    postcode="SW1A 1AA",
    country="GB",
)


def test_the_issue_16_label_prints_postcode_city_and_second_lines_in_us_format() -> None:
    """The reported label: CN22 with one line; both postcodes, cities and second lines print."""
    shirt = ContentsLine("Cotton T-shirt", 1, 200, 1500, "610910", "GB")
    cn22 = Cn22Data(Category.GIFT, (shirt,), "GBP", 300, date(2026, 12, 4), operator="Royal Mail")
    service = "International Tracked (letter post, tracked and signed)"
    page = open_pdf(render_label(LabelData(ITEM, service, SENDER, QUINCEY, 300, cn22)))[0]
    page_text = text(page)
    for expected in (
        "Flat 2",
        "LONDON SW1A 1AA",
        "Quincey Imports LLC",
        "Apt 7",
        "CHICAGO, IL 60601",
        "UNITED STATES",
        service,
        "Designated operator: Royal Mail",
    ):
        assert expected in page_text
