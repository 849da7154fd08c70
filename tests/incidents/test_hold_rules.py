"""Pure hold rules: scopes, matching, overlaps and the validation of hold requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given

from postex.incidents.domain import (
    HoldStatus,
    Scope,
    hold_status,
    parse_hold,
    parse_release,
    parse_scope,
)
from postex.kernel.errors import ValidationError
from tests.strategies import scopes, subjects

NOW = datetime(2023, 1, 11, 9, 0, tzinfo=UTC)
GOODS_LETTER = {"site": "GBLALA", "destination": "US", "service": "standard_letter",
                "has_goods": True, "customs_form": "CN22"}  # fmt: skip
DOCUMENTS_LETTER = {**GOODS_LETTER, "has_goods": False, "customs_form": None}


def _rules(exc: pytest.ExceptionInfo[ValidationError]) -> set[tuple[str, str]]:
    return {(e.field, e.rule) for e in exc.value.errors}


def test_goods_only_scope_catches_goods_and_lets_documents_letters_through() -> None:
    """A goods-only network scope matches items needing customs data, not documents letters."""
    scope = Scope(goods_only=True)
    assert scope.matches(GOODS_LETTER)
    assert not scope.matches(DOCUMENTS_LETTER)
    assert scope.network_wide


def test_each_dimension_narrows_the_scope() -> None:
    """Sites, destinations and services each restrict what a scope matches."""
    assert not Scope(sites=("GBLGWA",)).matches(GOODS_LETTER)
    assert not Scope(destinations=("FR",)).matches(GOODS_LETTER)
    assert not Scope(services=("parcel",)).matches(GOODS_LETTER)
    assert Scope(("GBLALA",), ("US",), ("standard_letter",), True).matches(GOODS_LETTER)


def test_a_subject_missing_a_key_is_caught_when_unsure() -> None:
    """An action whose subject lacks a dimension is held rather than let through."""
    assert Scope(services=("parcel",)).matches({"site": "GBLALA", "destination": "US"})


@given(scopes, scopes, subjects)
def test_two_scopes_matching_one_subject_overlap(a: Scope, b: Scope, subject: dict) -> None:
    """If any item falls inside both scopes, the overlap rule says they overlap."""
    if a.matches(subject) and b.matches(subject):
        assert a.overlaps(b)


@given(scopes, scopes)
def test_overlap_is_symmetric(a: Scope, b: Scope) -> None:
    """Overlap does not depend on which hold came first."""
    assert a.overlaps(b) == b.overlaps(a)


@given(scopes)
def test_scope_round_trips_through_its_event_form(scope: Scope) -> None:
    """A scope stored in an event reads back equal."""
    assert Scope.from_dict(scope.to_dict()) == scope


def test_unknown_site_country_and_service_are_named() -> None:
    """Every unknown code in a scope is reported with its field and rule."""
    with pytest.raises(ValidationError) as exc:
        parse_scope({"sites": ["GBXXXX"], "destinations": ["ZZ"], "services": ["teleport"]})
    assert _rules(exc) == {
        ("scope.sites[0]", "unknown_site"),
        ("scope.destinations[0]", "iso3166_alpha2"),
        ("scope.services[0]", "unknown_service"),
    }


def test_customer_facing_hold_needs_an_advisory() -> None:
    """An empty or blank advisory on a customer-facing hold is refused."""
    for advisory in (None, "", "   "):
        with pytest.raises(ValidationError) as exc:
            parse_hold({"scope": {}, "reason": "incident", "advisory": advisory}, NOW)
        assert "advisory" in {f for f, _ in _rules(exc)}
    internal = parse_hold({"scope": {}, "reason": "drill", "customer_facing": False}, NOW)
    assert internal.advisory is None


def test_start_in_the_past_or_too_far_ahead_is_refused() -> None:
    """A start must be now (within a small skew) or in the next 90 days."""
    base = {"scope": {}, "reason": "r", "advisory": "a"}
    late = (NOW - timedelta(hours=1)).isoformat()
    with pytest.raises(ValidationError) as exc:
        parse_hold({**base, "starts_at": late}, NOW)
    assert _rules(exc) == {("starts_at", "not_past")}
    with pytest.raises(ValidationError):
        parse_hold({**base, "starts_at": (NOW + timedelta(days=91)).isoformat()}, NOW)
    with pytest.raises(ValidationError):
        parse_hold({**base, "starts_at": "tomorrow"}, NOW)
    soon = parse_hold({**base, "starts_at": (NOW + timedelta(hours=2)).isoformat()}, NOW)
    assert soon.starts_at == NOW + timedelta(hours=2)


def test_release_lists_valid_ids_or_services_not_both() -> None:
    """A release names S10 ids or services; a bad id or both at once is refused."""
    with pytest.raises(ValidationError) as exc:
        parse_release({"items": ["LA100000003GB", "nonsense"]})
    assert ("items[1]", "length") in _rules(exc)
    with pytest.raises(ValidationError) as exc:
        parse_release({"items": ["LA100000003GB"], "services": ["tracked"]})
    assert ("services", "exclusive") in _rules(exc)
    assert parse_release(None).complete


def test_unconfirmed_hold_expires_after_fifteen_minutes() -> None:
    """A pending hold is pending for 15 minutes, then expired; it never becomes active."""
    status = [
        hold_status(now=NOW + timedelta(minutes=m), placed_at=NOW, starts_at=NOW,
                    confirmed=False, released=False)
        for m in (0, 15, 16)
    ]  # fmt: skip
    assert status == [HoldStatus.PENDING, HoldStatus.PENDING, HoldStatus.EXPIRED]
    later = NOW + timedelta(hours=1)
    assert hold_status(now=NOW, placed_at=NOW, starts_at=later, confirmed=True,
                       released=False) is HoldStatus.SCHEDULED  # fmt: skip
