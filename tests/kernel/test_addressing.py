"""Each destination's address format from Google's address dataset, as labels print it."""

from __future__ import annotations

import pytest

from postex.kernel.addressing import country_rules, format_lines, postcode_valid


def lines(country: str, **parts: str) -> list[str]:
    base = {"name": "Ann Lee", "company": "", "city": "", "region": "", "postcode": ""}
    base.update(parts)
    street = tuple(base.pop("street", "1 Main St").split("|"))
    return format_lines(country=country, address_lines=street, **base)


def test_us_last_line_is_city_state_zip_in_capitals() -> None:
    """USPS order and upper-casing: CHICAGO, IL 60601 (not "60601 Chicago IL")."""
    got = lines("US", company="Quincey Imports LLC", street="2200 Juniper Blvd|Apt 7",
                city="Chicago", region="IL", postcode="60601")  # fmt: skip
    assert got == ["Ann Lee", "Quincey Imports LLC", "2200 Juniper Blvd", "Apt 7",
                   "CHICAGO, IL 60601"]  # fmt: skip


def test_germany_puts_the_postcode_before_the_city() -> None:
    assert lines("DE", city="Berlin", postcode="10115")[-1] == "10115 BERLIN"


def test_japan_keeps_the_city_its_format_has_no_place_for() -> None:
    """Japan's Latin format has no city field: the city joins the street line, not dropped."""
    got = lines("JP", street="1-1 Marunouchi", city="Chiyoda-ku", region="Tokyo",
                postcode="100-0001")  # fmt: skip
    assert got == ["Ann Lee", "1-1 Marunouchi, Chiyoda-ku, TOKYO", "100-0001"]


def test_an_unknown_country_gets_the_generic_format() -> None:
    """Nothing dropped where the dataset has no format: postcode and region still print."""
    got = " ".join(lines("ZZ", city="Pristina", region="Centre", postcode="10000"))
    assert all(part in got for part in ("PRISTINA", "Centre", "10000"))


@pytest.mark.parametrize(
    ("country", "code", "valid"),
    [("US", "60601", True), ("US", "6060", False), ("GB", "SW1A 1AA", True),
     ("CA", "K1A 0B1", True), ("CA", "D1A 0B1", False), ("JP", "100-0001", True)],
)  # fmt: skip
def test_postcode_patterns_come_from_the_dataset(country: str, code: str, valid: bool) -> None:
    assert postcode_valid(country, code) is valid


def test_required_fields_are_named_in_our_terms() -> None:
    assert {"region", "postcode", "city"} <= country_rules("US").required
    assert "region" not in country_rules("DE").required
    assert country_rules("JP").region_type == "prefecture"
