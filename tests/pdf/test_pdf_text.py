from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postex.pdf._text import (
    ELLIPSIS,
    REGULAR,
    ensure_fonts,
    fit,
    kg_from_g,
    kg_from_hg,
    money,
    width,
    wrap,
)


@pytest.mark.parametrize(
    ("minor", "currency", "printed"),
    [(1250, "GBP", "12.50"), (5, "EUR", "0.05"), (1250, "JPY", "1250"), (1250, "KWD", "1.250")],
)
def test_money_uses_the_currency_exponent(minor: int, currency: str, printed: str) -> None:
    """Minor units print with ISO 4217 decimals: 2 by default, 0 for yen, 3 for dinars."""
    assert money(minor, currency) == printed


def test_weights_print_in_kilograms() -> None:
    """Grams print with three decimals, tenths of a kilogram with one."""
    assert (kg_from_g(250), kg_from_g(12_345), kg_from_hg(123), kg_from_hg(7)) == (
        "0.250",
        "12.345",
        "12.3",
        "0.7",
    )


@given(st.text(max_size=300), st.floats(min_value=20, max_value=400))
def test_wrapped_lines_never_exceed_the_room(sample: str, room: float) -> None:
    """Whatever the text, no wrapped line is wider than the room it was wrapped into."""
    ensure_fonts()
    for line in wrap(sample, REGULAR, 9, room):
        assert width(line, REGULAR, 9) <= room


def test_fit_cuts_with_an_ellipsis_and_keeps_the_budget() -> None:
    """Text longer than the line budget ends in an ellipsis on the last allowed line."""
    ensure_fonts()
    lines = fit("word " * 200, REGULAR, 9, 100, 2)
    assert len(lines) == 2
    assert lines[-1].endswith(ELLIPSIS)


def test_controls_and_direction_marks_do_not_print() -> None:
    """Tabs and newlines become spaces; invisible format characters disappear."""
    ensure_fonts()
    assert wrap("a\tb\n\u200fc", REGULAR, 9, 500) == ["a b c"]
