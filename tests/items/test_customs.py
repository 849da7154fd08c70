"""Customs declarations: the form required and the data-quality rules for goods."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from postex.items.domain.customs import parse_contents, required_form
from postex.kernel.errors import ValidationError
from postex.kernel.reference import services
from tests.factories import ITEM


def contents(**line_changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(ITEM["contents"])
    data["lines"][0].update(line_changes)
    return data


def rules_broken(data: Any) -> set[tuple[str, str]]:
    with pytest.raises(ValidationError) as exc:
        parse_contents(data)
    return {(e.field, e.rule) for e in exc.value.errors}


def test_letter_with_goods_up_to_270_pounds_needs_a_cn22() -> None:
    """£270.00 of goods by letter post is declared on a CN22."""
    c = parse_contents(contents(value_minor=27000, quantity=1))
    assert required_form(services().get("tracked"), c) == "CN22"


def test_letter_with_goods_over_270_pounds_needs_a_cn23() -> None:
    """One penny over the threshold needs the full CN23."""
    c = parse_contents(contents(value_minor=27001, quantity=1))
    assert required_form(services().get("tracked"), c) == "CN23"


def test_foreign_currency_is_converted_before_the_threshold() -> None:
    """€300 is about £258 at the data file's rate, so it stays on a CN22."""
    c = parse_contents(contents(value_minor=30000, currency="EUR"))
    assert required_form(services().get("tracked"), c) == "CN22"


def test_parcels_always_need_a_cn23() -> None:
    """Parcels carry a CN23 whatever their value."""
    c = parse_contents(contents(value_minor=500))
    assert required_form(services().get("parcel"), c) == "CN23"


def test_documents_by_letter_need_no_declaration() -> None:
    """Correspondence and documents by letter post need no customs form."""
    c = parse_contents({"category": "documents", "lines": []})
    assert required_form(services().get("standard_letter"), c) is None


@pytest.mark.parametrize("vague", ["gift", "Goods", "ITEMS", "clothes", " parts. "])
def test_vague_descriptions_are_refused(vague: str) -> None:
    """Descriptions customs cannot classify are refused with their own rule."""
    assert ("contents.lines.0.description", "vague_description") in rules_broken(
        contents(description=vague)
    )


def test_specific_description_containing_a_vague_word_is_accepted() -> None:
    """'Gift box of soaps' says what it is, so it passes."""
    assert parse_contents(contents(description="Gift box of soaps")).lines[0].description


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"value_minor": 0}, "zero_value"),
        ({"value_minor": -5}, "minimum"),
        ({"currency": "XYZ"}, "iso4217"),
        ({"hs_code": "61091"}, "hs_code_format"),
        ({"hs_code": "61091012345"}, "hs_code_format"),
        ({"hs_code": None}, "hs_code_format"),
        ({"origin_country": None}, "iso3166_alpha2"),
        ({"quantity": 0}, "minimum"),
        ({"net_weight_g": 1.5}, "type"),
        ({"surprise": 1}, "unknown_field"),
    ],
)
def test_bad_goods_lines_name_field_rule_and_value(change: dict[str, Any], rule: str) -> None:
    """Each broken rule of a goods line is reported with its field path."""
    assert rule in {r for _f, r in rules_broken(contents(**change))}


def test_every_broken_rule_is_reported_at_once() -> None:
    """A line with three problems yields three errors, not one."""
    broken = rules_broken(contents(description="gift", value_minor=0, hs_code="1"))
    assert {r for _f, r in broken} >= {"vague_description", "zero_value", "hs_code_format"}


def test_goods_category_without_lines_is_refused() -> None:
    """A sale of goods must list the goods."""
    assert ("contents.lines", "goods_lines_required") in rules_broken(
        {"category": "sale_of_goods", "lines": []}
    )


def test_mixed_currencies_in_one_item_are_refused() -> None:
    """Totals need one currency per item."""
    data = contents()
    data["lines"].append({**data["lines"][0], "currency": "EUR"})
    assert ("contents.lines", "single_currency") in rules_broken(data)


def test_hs_codes_of_six_to_ten_digits_are_accepted() -> None:
    """International 6-digit codes and national 8–10 digit extensions are valid."""
    for code in ("610910", "61091000", "6109100010"):
        assert parse_contents(contents(hs_code=code)).lines[0].hs_code == code
