"""Items: pre-advice validation and the state machine."""

from __future__ import annotations

import contextlib
import copy
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postex.items.domain.items import (
    TRANSITIONS,
    ItemState,
    parse_pre_advice,
    release_target,
    transition,
)
from postex.kernel.errors import InvalidStateError, ValidationError
from tests.factories import DOCUMENTS_LETTER, item_payload

S = ItemState
HAPPY_PATH = [S.PRE_ADVISED, S.ACCEPTED, S.IN_RECEPTACLE, S.DESPATCHED, S.IN_TRANSIT, S.DELIVERED]


def test_the_export_pipeline_is_a_legal_path() -> None:
    """pre_advised → accepted → in_receptacle → despatched → in_transit → delivered."""
    for src, dst in itertools.pairwise(HAPPY_PATH):
        assert transition(src, dst) == dst


@pytest.mark.parametrize(
    ("src", "dst"),
    [(s, d) for s in S for d in S if d not in TRANSITIONS[s]],
)
def test_every_illegal_transition_is_refused(src: ItemState, dst: ItemState) -> None:
    """Any move the machine does not list raises InvalidStateError naming both states."""
    with pytest.raises(InvalidStateError) as exc:
        transition(src, dst, "LA100000003GB")
    assert exc.value.extra == {"rule": "illegal_transition", "state": src, "target": dst}


def test_cancel_only_before_acceptance() -> None:
    """A pre-advised item can be cancelled; an accepted one cannot."""
    assert transition(S.PRE_ADVISED, S.CANCELLED) == S.CANCELLED
    with pytest.raises(InvalidStateError):
        transition(S.ACCEPTED, S.CANCELLED)


@pytest.mark.parametrize("state", [S.PRE_ADVISED, S.ACCEPTED, S.IN_RECEPTACLE, S.DESPATCHED])
def test_held_items_return_to_the_state_they_were_held_in(state: ItemState) -> None:
    """Holding and releasing is a round trip."""
    transition(state, S.HELD)
    assert release_target(state) == state


def test_the_design_example_is_accepted_with_a_cn22() -> None:
    """The item of DESIGN.md validates and needs a CN22."""
    advice = parse_pre_advice(item_payload())
    assert advice.customs_form == "CN22"
    assert advice.destination == "US"
    assert advice.sender.postcode == "SW1A 1AA"


def test_a_documents_letter_needs_no_customs_form() -> None:
    """Documents by letter post carry no declaration."""
    assert parse_pre_advice(copy.deepcopy(DOCUMENTS_LETTER)).customs_form is None


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"service": "teleport"}, "service", "unknown_service"),
        ({"weight_g": 2001}, "weight_g", "service_max_weight"),
        ({"weight_g": 0}, "weight_g", "minimum"),
        ({"weight_g": "850"}, "weight_g", "type"),
        ({"weight_g": 300}, "contents.lines", "lines_exceed_item_weight"),
        (
            {"dimensions_mm": {"length": 700, "width": 10, "height": 10}},
            "dimensions_mm.length",
            "service_max_length",
        ),
        ({"reference": "R" * 36}, "reference", "max_length"),
        ({"colour": "blue"}, "colour", "unknown_field"),
    ],
)
def test_bad_items_name_field_rule_and_value(
    changes: dict[str, Any], field: str, rule: str
) -> None:
    """Each broken rule of an item is reported with its field path."""
    with pytest.raises(ValidationError) as exc:
        parse_pre_advice(item_payload(**changes))
    assert (field, rule) in {(e.field, e.rule) for e in exc.value.errors}


def test_domestic_items_are_not_exports() -> None:
    """An addressee in the origin country is refused: Postex handles exports."""
    data = item_payload()
    data["addressee"] = {**data["addressee"], "country": "GB", "postcode": "EC1A 1BB"}
    with pytest.raises(ValidationError) as exc:
        parse_pre_advice(data)
    assert exc.value.errors[0].rule == "not_export"


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=5),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(sorted(item_payload())), json_like, max_size=9))
def test_malformed_items_raise_only_validation_errors(data: dict[str, Any]) -> None:
    """Any malformed item yields a PreAdvice or a ValidationError, never a crash."""
    with contextlib.suppress(ValidationError):
        parse_pre_advice(data)


@given(st.sampled_from(sorted(item_payload())), json_like)
def test_one_corrupted_field_of_a_valid_item_is_handled(field: str, value: Any) -> None:
    """Replacing any one field of a valid item with junk never crashes validation."""
    with contextlib.suppress(ValidationError):
        parse_pre_advice(item_payload(**{field: value}))
