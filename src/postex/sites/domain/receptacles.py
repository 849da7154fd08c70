"""Receptacles (bags): what may go in, when one may close, and the S9 id it gets on closing.

Pure rules; the application supplies the records. Weights are grams. A receptacle is opened
for one series (destination office, mail category, subclass) at one of our offices of
exchange; on closing it takes the next receptacle serial of its series' pending despatch, the
highest-receptacle flag the clerk gives (1 last, 0 not last, 9 not said), the registered flag of its
contents and its measured gross weight, which fixes its 29-character S9 id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from postex.kernel.dispatch_ids import DespatchId, ReceptacleId, weight_field
from postex.kernel.errors import FieldError, InvalidStateError, ValidationError
from postex.kernel.validation import Checker

HIGHEST = {True: 1, False: 0, None: 9}  # S9 position 24: last, not last, unknown
DEFAULT_LIMIT_G = 30_000  # a 30 kg bag
TARE_ALLOWANCE_G = 2_000  # the bag, seal and label on top of the contents
MIN_TOLERANCE_G = 20  # scales are not better than this on small items
MAX_REASON = 500  # a supervisor's reason for reopening a bag or taking it out of a despatch


class ReceptacleState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    IN_DESPATCH = "in_despatch"
    ABANDONED = "abandoned"  # its site was lost and failed over: never closed or despatched


@dataclass(frozen=True)
class Series:
    """What every receptacle of one despatch shares (the S8 id without year and serial)."""

    origin: str
    destination: str
    category: str
    subclass: str

    def despatch_id(self, year_digit: int, serial: int) -> DespatchId:
        return DespatchId(
            self.origin, self.destination, self.category, self.subclass, year_digit, serial
        )


def weight_error(declared_g: int, measured_g: object, tolerance_pct: int) -> FieldError | None:
    """Why a measured weight does not match the declared one, or None when it does.

    The tolerance is ``tolerance_pct`` percent of the declared weight, at least 20 g.
    """
    if not isinstance(measured_g, int) or isinstance(measured_g, bool) or measured_g < 1:
        return FieldError(
            "weight_g", "type", measured_g, "the measured weight is a whole number of grams ≥ 1"
        )
    allowed = max(declared_g * tolerance_pct // 100, MIN_TOLERANCE_G)
    if abs(measured_g - declared_g) > allowed:
        return FieldError(
            "weight_g",
            "weight_tolerance",
            measured_g,
            f"measured {measured_g} g but {declared_g} g was declared (±{allowed} g allowed):"
            " weigh the item again, or refuse it and ask the sender to pre-advise it again",
        )
    return None


def fits(content_g: int, adding_g: int, limit_g: int) -> FieldError | None:
    """Why adding ``adding_g`` would overfill a receptacle holding ``content_g``, or None."""
    if content_g + adding_g > limit_g:
        return FieldError(
            "item_id",
            "over_limit",
            content_g + adding_g,
            f"the receptacle would weigh {content_g + adding_g} g, over its {limit_g} g limit:"
            " close it and open a new one for this item",
        )
    return None


def check_closing(item_count: int, content_g: int, gross_g: object, limit_g: int) -> int:
    """The gross weight to record on closing; raise if the receptacle may not close with it."""
    if item_count == 0:
        raise InvalidStateError(
            "an empty receptacle cannot be closed: add items first, or leave it open",
            rule="empty_receptacle",
        )
    if not isinstance(gross_g, int) or isinstance(gross_g, bool):
        raise ValidationError.single(
            "gross_weight_g", "type", gross_g, "the gross weight is a whole number of grams"
        )
    if gross_g < content_g:
        raise ValidationError.single(
            "gross_weight_g",
            "lighter_than_contents",
            gross_g,
            f"the items inside weigh {content_g} g: weigh the closed receptacle again",
        )
    if gross_g > limit_g + TARE_ALLOWANCE_G:
        raise ValidationError.single(
            "gross_weight_g",
            "over_limit",
            gross_g,
            f"a receptacle weighs at most {limit_g + TARE_ALLOWANCE_G} g with its bag:"
            " take items out and close it again",
        )
    return gross_g


def closed_id(
    series: Series,
    year_digit: int,
    despatch_serial: int,
    receptacle_serial: int,
    last: bool | None,
    registered: bool,
    gross_g: int,
) -> ReceptacleId:
    """The S9 id of a receptacle closed with these facts."""
    return ReceptacleId(
        series.despatch_id(year_digit, despatch_serial),
        receptacle_serial,
        HIGHEST[last],
        1 if registered else 0,
        weight_field(gross_g),
    )


def free_serial(used: list[int]) -> int:
    """The receptacle serial a bag closing into a pending despatch takes: the lowest one
    free, so that a serial left by a reopened bag is taken again and serials run 1…n."""
    taken = set(used)
    return next(n for n in range(1, len(taken) + 2) if n not in taken)


def check_reason(value: object) -> str:
    """A supervisor's reason: required, 3 to MAX_REASON characters, no control characters."""
    checker = Checker()
    reason = checker.text({"reason": value}, "reason", min_len=3, max_len=MAX_REASON)
    checker.done()
    assert reason is not None
    return reason
