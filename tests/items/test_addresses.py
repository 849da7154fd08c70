"""Addresses: required parts and per-country rules from Google's address dataset."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postex.items.domain.addresses import normalise_postcode, parse_address
from postex.kernel.errors import ValidationError
from tests.factories import ITEM

VALID = {
    "GB": ["SW1A 1AA", "ec1a1bb", "M1 1AE", "GIR 0AA"],
    "US": ["10001", "94105-1804"],
    "CA": ["K1A 0B1", "m5v3l9"],
    "DE": ["10115"],
    "FR": ["75008"],
    "NL": ["1012 AB", "1012AB"],
    "IE": ["D02 X285", "A65F4E2"],
    "AU": ["2000"],
    "JP": ["100-0001", "1000001"],
    "CN": ["100000"],
}
INVALID = {
    "GB": ["SW1A", "12345"],
    "US": ["1000", "ABCDE"],
    "CA": ["D1A 0B1", "12345"],
    "DE": ["1011", "101155"],
    "FR": ["7500"],
    "NL": ["0123 AB", "1012 A"],
    "IE": ["D02"],  # the dataset checks an Eircode's shape, not its routing key
    "AU": ["200"],
    "JP": ["10-00001"],
    "CN": ["10000"],
}


@pytest.mark.parametrize(("country", "code"), [(c, p) for c, ps in VALID.items() for p in ps])
def test_valid_postcodes_are_normalised(country: str, code: str) -> None:
    """Valid postcodes pass and come back upper-cased and trimmed."""
    out = normalise_postcode(country, code, "postcode")
    assert out == " ".join(code.strip().upper().split())


@pytest.mark.parametrize(("country", "code"), [(c, p) for c, ps in INVALID.items() for p in ps])
def test_invalid_postcodes_are_refused(country: str, code: str) -> None:
    """Postcodes that break the country's pattern are refused with an example."""
    with pytest.raises(ValidationError) as exc:
        normalise_postcode(country, code, "addressee.postcode")
    assert exc.value.errors[0].rule == "postcode_format"
    assert exc.value.errors[0].field == "addressee.postcode"


def addressee(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(ITEM["addressee"])
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"country": "XX"}, "to.country", "iso3166_alpha2"),
        ({"name": ""}, "to.name", "min_length"),
        ({"name": None}, "to.name", "required"),
        ({"address_lines": []}, "to.address_lines", "lines_count"),
        ({"address_lines": ["x" * 81]}, "to.address_lines.0", "max_length"),
        ({"city": "New\x00York"}, "to.city", "control_characters"),
        ({"email": "not-an-email"}, "to.email", "email_format"),
        ({"phone": "call me"}, "to.phone", "phone_format"),
        ({"postcode": None}, "to.postcode", "required"),
        ({"region": None}, "to.region", "required"),
        ({"planet": "Mars"}, "to.planet", "unknown_field"),
    ],
)
def test_address_errors_name_the_field_path(change: dict[str, Any], field: str, rule: str) -> None:
    """Each broken rule is reported under the address's own field path."""
    with pytest.raises(ValidationError) as exc:
        parse_address(addressee(**change), "to")
    assert (field, rule) in {(e.field, e.rule) for e in exc.value.errors}


@given(
    st.dictionaries(
        st.text(max_size=10),
        st.one_of(st.text(), st.integers(), st.none(), st.lists(st.text(), max_size=4)),
    )
)
def test_arbitrary_address_objects_raise_only_validation_errors(data: dict[str, Any]) -> None:
    """Whatever a caller sends as an address, the answer is an Address or a ValidationError."""
    with contextlib.suppress(ValidationError):
        parse_address(data, "to")


@pytest.mark.parametrize(
    ("country", "postcode", "kind"),
    [("US", "60601", "state"), ("CA", "K1A 0B1", "province"), ("JP", "100-0001", "prefecture"),
     ("AU", "2000", "state")],
)  # fmt: skip
def test_a_destination_that_requires_a_region_names_it(
    country: str, postcode: str, kind: str
) -> None:
    """The US needs a state, Japan a prefecture: the error names the field and the rule."""
    data = addressee(country=country, postcode=postcode, region=None)
    with pytest.raises(ValidationError) as exc:
        parse_address(data, "addressee")
    (error,) = exc.value.errors
    assert (error.field, error.rule) == ("addressee.region", "required")
    assert kind in error.message


def test_a_region_name_becomes_the_code_the_destination_prints() -> None:
    """ "Illinois" is stored as "IL", the code the US last line carries."""
    data = addressee(region="Illinois", city="Chicago", postcode="60601")
    assert parse_address(data, "addressee").region == "IL"


def test_germany_needs_no_region() -> None:
    """No region where the dataset requires none."""
    data = addressee(country="DE", postcode="10115", city="Berlin", region=None)
    assert parse_address(data, "addressee").region is None
