"""S8 despatch ids and S9 receptacle ids: format, parse, validation (UPU.md section 2)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postex.kernel.dispatch_ids import DespatchId, ReceptacleId, weight_field
from postex.kernel.errors import ValidationError

# Kept here rather than in tests/strategies.py, which this change does not own.
impc_codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=6, max_size=6)
despatch_ids = st.builds(
    DespatchId,
    origin=impc_codes,
    destination=impc_codes,
    category=st.sampled_from("ABCD"),
    subclass=st.builds(
        lambda c, s: c + s,
        st.sampled_from("CUE"),
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    ),
    year_digit=st.integers(0, 9),
    serial=st.integers(1, 9999),
)
receptacle_ids = st.builds(
    ReceptacleId,
    despatch=despatch_ids,
    receptacle_serial=st.integers(1, 999),
    highest=st.sampled_from([0, 1, 9]),
    registered=st.sampled_from([0, 1, 9]),
    weight_dag=st.integers(0, 9999),
)


def refusal(parse: Callable[[str], object], text: str) -> ValidationError | None:
    """The ValidationError ``parse`` raises for ``text``, or None if it parses."""
    try:
        parse(text)
    except ValidationError as exc:
        return exc
    return None


def rule_of(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return exc.value.errors[0].rule


def test_real_receptacle_ids_parse_into_their_fields() -> None:
    """The two real S9 examples parse into the documented fields and format back unchanged."""
    first = ReceptacleId.parse("USJFKKAUSYDXACB70089045100002")
    assert first.despatch == DespatchId("USJFKK", "AUSYDX", "A", "CB", 7, 89)
    assert (first.receptacle_serial, first.highest, first.registered, first.weight_dag) == (
        45,
        1,
        0,
        2,
    )
    second = ReceptacleId.parse("GBLHRADEFRAAACA12000200002000")
    assert second.despatch == DespatchId("GBLHRA", "DEFRAA", "A", "CA", 1, 2000)
    assert (second.receptacle_serial, second.weight_dag) == (200, 2000)
    assert str(first) == "USJFKKAUSYDXACB70089045100002"
    assert str(second) == "GBLHRADEFRAAACA12000200002000"


def test_despatch_id_is_the_first_twenty_characters() -> None:
    """A despatch id formats as the first 20 characters of its receptacles' ids."""
    receptacle = ReceptacleId.parse("GBLHRADEFRAAACA12000200002000")
    assert str(receptacle.despatch) == "GBLHRADEFRAAACA12000"
    assert DespatchId.parse("GBLHRADEFRAAACA12000").mail_class == "C"


@given(despatch_ids)
def test_despatch_id_round_trips(despatch: DespatchId) -> None:
    """Every valid despatch id formats to 20 characters and parses back equal."""
    text = str(despatch)
    assert len(text) == 20
    assert DespatchId.parse(text) == despatch


@given(receptacle_ids)
def test_receptacle_id_round_trips(receptacle: ReceptacleId) -> None:
    """Every valid receptacle id formats to 29 characters and parses back equal."""
    text = str(receptacle)
    assert len(text) == 29
    assert ReceptacleId.parse(text) == receptacle


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_validation_error(text: str) -> None:
    """Arbitrary text either parses or is refused with ValidationError, never another error."""
    for parse in (DespatchId.parse, ReceptacleId.parse):
        exc = refusal(parse, text)
        assert exc is None or exc.errors[0].field in {"despatch_id", "receptacle_id"}


@given(receptacle_ids, st.integers(0, 28), st.characters())
def test_a_changed_character_never_escapes_as_another_error(
    receptacle: ReceptacleId, position: int, char: str
) -> None:
    """Replacing any one character yields a valid id or a ValidationError, nothing else."""
    text = str(receptacle)
    mutated = text[:position] + char + text[position + 1 :]
    exc = refusal(ReceptacleId.parse, mutated)
    assert exc is None or exc.errors[0].value == mutated


@given(receptacle_ids, st.integers(1, 5))
def test_wrong_length_is_refused(receptacle: ReceptacleId, cut: int) -> None:
    """An id that is too short or too long is refused with rule 'length'."""
    text = str(receptacle)
    for wrong in (text[:-cut], text + "0" * cut):
        with pytest.raises(ValidationError) as exc:
            ReceptacleId.parse(wrong)
        assert rule_of(exc) == "length"
        assert exc.value.errors[0].field == "receptacle_id"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("usjfkkAUSYDXACB70089", "impc_format"),
        ("USJFKKausydxACB70089", "impc_format"),
        ("USJFK1AUSYDXACB70089", "impc_format"),
        ("USJFKKAUSYDXECB70089", "category"),
        ("USJFKKAUSYDXaCB70089", "category"),
        ("USJFKKAUSYDXAXB70089", "subclass"),
        ("USJFKKAUSYDXAcB70089", "subclass"),
        ("USJFKKAUSYDXAU-70089", "subclass"),
        ("USJFKKAUSYDXACB70000", "serial_range"),
        ("USJFKKAUSYDXACB7008A", "serial_format"),
        ("USJFKKAUSYDXACBX0089", "year_digit"),
    ],
)
def test_malformed_despatch_ids_name_the_rule(text: str, rule: str) -> None:
    """Each malformed despatch id is refused with the rule it breaks and the text given."""
    with pytest.raises(ValidationError) as exc:
        DespatchId.parse(text)
    error = exc.value.errors[0]
    assert (error.field, error.rule, error.value) == ("despatch_id", rule, text)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("USJFKKAUSYDXACB70089000100002", "serial_range"),
        ("USJFKKAUSYDXACB70089045200002", "indicator"),
        ("USJFKKAUSYDXACB70089045120002", "indicator"),
        ("USJFKKAUSYDXACB7008904510000X", "weight_format"),
        ("USJFKKAUSYDXACB700890X5100002", "serial_format"),
        ("USJFKKAUSYDXACB70000045100002", "serial_range"),
    ],
)
def test_malformed_receptacle_ids_name_the_rule(text: str, rule: str) -> None:
    """Each malformed receptacle id is refused with the rule it breaks."""
    with pytest.raises(ValidationError) as exc:
        ReceptacleId.parse(text)
    assert (exc.value.errors[0].field, rule_of(exc)) == ("receptacle_id", rule)


def test_constructor_names_each_bad_attribute() -> None:
    """Building an id from bad values reports every broken attribute by name."""
    with pytest.raises(ValidationError) as exc:
        DespatchId("GBLAL", "usjfkk", "Z", "XN", 10, 0)
    fields = {e.field for e in exc.value.errors}
    assert fields == {"origin", "destination", "category", "subclass", "year_digit", "serial"}


def test_non_string_is_refused() -> None:
    """Parsing something that is not a string is a ValidationError with rule 'type'."""
    with pytest.raises(ValidationError) as exc:
        DespatchId.parse(12345)
    assert rule_of(exc) == "type"


@pytest.mark.parametrize(
    ("grams", "field"),
    [
        (0, 0),
        (1, 1),
        (49, 1),
        (149, 1),
        (150, 2),
        (12_300, 123),
        (12_349, 123),
        (999_800, 9998),
        (999_849, 9998),
        (999_850, 9999),
        (5_000_000, 9999),
    ],
)
def test_weight_field_rounds_to_tenths_of_a_kilo(grams: int, field: int) -> None:
    """The weight field rounds to 0.1 kg, is at least 1 when not empty, and clamps at 9999."""
    assert weight_field(grams) == field


def test_negative_weight_is_refused() -> None:
    """A negative weight is a ValidationError, not a weight field."""
    with pytest.raises(ValidationError):
        weight_field(-1)
