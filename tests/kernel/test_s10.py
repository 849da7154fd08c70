"""S10 item identifiers: check digits, parsing, refusal of malformed ids."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postex.kernel.errors import ValidationError
from postex.kernel.ids import S10, s10_check_digit
from tests.strategies import countries, s10_prefixes, s10_serials

REAL = ["RR287043775IN", "LE704280574SE", "EH036261918US", "LM219469900SE", "UA132229530HU",
        "RK166520145LV", "RB123456785GB"]  # fmt: skip


@pytest.mark.parametrize("text", REAL)
def test_real_identifiers_validate(text: str) -> None:
    """Identifiers seen on real items parse and print back unchanged."""
    assert str(S10.parse(text)) == text


def test_worked_example_and_special_cases() -> None:
    """Serial 47312482 gives 9; a remainder giving 10 maps to 0 and 11 to 5."""
    assert s10_check_digit(47312482) == 9
    assert s10_check_digit(21946990) == 0
    assert s10_check_digit(28704377) == 5


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("RB123456786US", "check_digit"),
        ("RB12345678GB", "length"),
        ("JA123456785GB", "reserved_service_indicator"),
        ("KA123456785GB", "reserved_service_indicator"),
        ("rb123456785GB", "service_indicator"),
        ("RB1234S6785GB", "serial_digits"),
        ("RB123456785G1", "country_code"),
        ("RB12345678ÅGB", "format"),
    ],
)
def test_malformed_ids_name_the_rule(text: str, rule: str) -> None:
    """Each malformed id is refused with the rule it breaks and the value it had."""
    with pytest.raises(ValidationError) as exc:
        S10.parse(text)
    assert exc.value.errors[0].rule == rule
    assert exc.value.errors[0].value == text


@given(s10_prefixes.filter(lambda p: p[0] not in "JK"), s10_serials, countries)
def test_issued_ids_round_trip(prefix: str, serial: int, country: str) -> None:
    """Every issued id parses back to the same prefix, serial and country."""
    s10 = S10.issue(prefix, serial, country)
    assert S10.parse(str(s10)) == s10


@given(s10_prefixes.filter(lambda p: p[0] not in "JK"), s10_serials, countries, st.integers(1, 9))
def test_any_wrong_check_digit_is_refused(
    prefix: str, serial: int, country: str, delta: int
) -> None:
    """Changing the check digit to any other digit makes the id invalid."""
    text = str(S10.issue(prefix, serial, country))
    wrong = text[:10] + str((int(text[10]) + delta) % 10) + text[11:]
    with pytest.raises(ValidationError):
        S10.parse(wrong)


@given(st.one_of(st.text(max_size=20), st.integers(), st.none(), st.binary(max_size=14)))
def test_arbitrary_input_is_refused_cleanly(value: object) -> None:
    """Anything that is not an S10 id raises ValidationError and nothing else."""
    with contextlib.suppress(ValidationError):
        S10.parse(value)


@given(st.integers(min_value=0, max_value=99_999_999))
def test_check_digit_follows_the_s10_definition(serial: int) -> None:
    """The table-driven check digit equals the textbook computation (UPU S10, weights
    8 6 4 2 3 5 9 7, mod 11, 10 → 0 and 11 → 5)."""
    total = sum(int(d) * w for d, w in zip(f"{serial:08d}", (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    expected = {10: 0, 11: 5}.get(11 - total % 11, 11 - total % 11)
    assert s10_check_digit(serial) == expected


@pytest.mark.parametrize(
    ("prefix", "country", "rule"),
    [("jA", "GB", "service_indicator"), ("JA", "GB", "reserved_service_indicator"),
     ("LA", "gb", "country_code"), ("LA", "G1", "country_code"), ("LÄ", "GB", "service_indicator")],
)  # fmt: skip
def test_constructor_refuses_bad_parts_every_time(prefix: str, country: str, rule: str) -> None:
    for _ in range(2):  # the second time too: only valid pairs are remembered
        with pytest.raises(ValidationError) as err:
            S10(prefix, 1, country)
        assert err.value.errors[0].rule == rule
