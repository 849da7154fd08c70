"""Receptacle and despatch rules: S9 ids of closed bags round-trip; compositions are checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postex.kernel.dispatch_ids import ReceptacleId
from postex.kernel.errors import ConflictError, InvalidStateError, ValidationError
from postex.sites.domain.despatches import bill_form, check_composition, next_serial
from postex.sites.domain.receptacles import Series, check_closing, closed_id, fits, weight_error
from tests.strategies import despatch_serials, gross_weights, series, year_digits


@given(
    series(),
    year_digits,
    despatch_serials,
    st.integers(1, 999),
    st.none() | st.booleans(),
    st.booleans(),
    gross_weights,
)
def test_a_closed_receptacles_s9_id_round_trips(
    s: Series, year: int, serial: int, n: int, last: bool | None, registered: bool, gross: int
) -> None:
    """Every S9 id a closing produces is 29 characters and parses back to the same facts."""
    rid = closed_id(s, year, serial, n, last, registered, gross)
    text = str(rid)
    assert len(text) == 29
    back = ReceptacleId.parse(text)
    assert back == rid
    assert (back.despatch.origin, back.despatch.destination) == (s.origin, s.destination)
    assert back.highest == {True: 1, False: 0, None: 9}[last]
    assert back.registered == int(registered)
    assert back.weight_dag == min(max((gross + 50) // 100, 1), 9999)


@given(series(), year_digits, despatch_serials, st.integers(1, 30), st.randoms())
def test_the_bags_of_one_pending_despatch_compose_in_any_order(
    s: Series, year: int, serial: int, n: int, rnd: object
) -> None:
    """Bags numbered 1…n of one despatch, the last one flagged, compose in any order."""
    ids = [closed_id(s, year, serial, i, i == n, False, 1000) for i in range(1, n + 1)]
    rnd.shuffle(ids)  # type: ignore[attr-defined]
    check_composition(ids)


@given(series(), series(), year_digits, despatch_serials)
def test_bags_of_two_series_do_not_compose(a: Series, b: Series, year: int, serial: int) -> None:
    """Receptacles of different despatches are refused, naming the odd one."""
    first = closed_id(a, year, serial, 1, False, False, 1000)
    second = closed_id(b, year, serial, 2, False, False, 1000)
    if a == b:
        check_composition([first, second])
        return
    with pytest.raises(ValidationError) as caught:
        check_composition([first, second])
    assert caught.value.errors[0].rule == "other_series"


def test_a_composition_must_list_every_bag_and_flag_only_the_last() -> None:
    """Left-out bags, gaps in the serials and an early highest flag are each refused."""
    s = Series("GBLALA", "USJFKA", "A", "UN")
    one, two = (closed_id(s, 6, 1, i, False, False, 900) for i in (1, 2))
    with pytest.raises(ValidationError, match="not listed"):
        check_composition([one], missing=[str(two)])
    with pytest.raises(ValidationError) as gap:
        check_composition([two])
    assert gap.value.errors[0].rule == "serials"
    early = closed_id(s, 6, 1, 1, True, False, 900)
    with pytest.raises(ValidationError) as flag:
        check_composition([early, two])
    assert flag.value.errors[0].rule == "highest"


def test_weights_are_checked_against_tolerance_limit_and_contents() -> None:
    """Tolerance is 10 % but at least 20 g; bags have a limit; gross covers the contents."""
    assert weight_error(1000, 1100, 10) is None
    assert weight_error(1000, 1101, 10) is not None
    assert weight_error(60, 80, 10) is None  # 20 g minimum
    assert weight_error(60, True, 10) is not None
    assert fits(29_000, 1000, 30_000) is None
    assert fits(29_001, 1000, 30_000) is not None
    with pytest.raises(InvalidStateError):
        check_closing(0, 0, 100, 30_000)
    with pytest.raises(ValidationError, match="weigh the closed receptacle again"):
        check_closing(2, 1700, 1600, 30_000)
    assert check_closing(2, 1700, 2000, 30_000) == 2000


def test_bill_forms_and_serial_exhaustion() -> None:
    """Letter post travels on a CN31, air parcels on a CN38; serial 9999 is the last."""
    assert bill_form("UN") == "CN31" and bill_form("CN") == "CN38" and bill_form("EN") == "CN38"
    assert next_serial(None) == 1 and next_serial(41) == 42
    with pytest.raises(ConflictError):
        next_serial(9999)
