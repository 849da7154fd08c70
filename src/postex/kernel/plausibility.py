"""When a partner's report can have happened: the tolerances every partner input shares.

A partner (EMSEVT events as JSON or CSV, RESDIT carrier receipts) reports what happened to
mail after we handed it over. A report is refused, with a rule naming why, when it is:

- ``in_future``: stamped more than FUTURE_SKEW after our clock (a partner's clock may run a
  little ahead; eight hours is not a clock);
- earlier than the previous physical event of the same mail by more than ORDER_TOLERANCE
  (clocks of two organisations, and scanners, disagree by a few minutes):
  ``before_pre_advice`` (the item's pre-advice), ``before_acceptance`` (our acceptance
  scan), ``before_handover`` (the despatch handed to the carrier), ``before_custody`` (the
  carrier's own receipt, RESDIT 74, before a delivery, RESDIT 21).

Partner events are not ordered among themselves: a partner may send a late scan after a
later one, so only our own physical events bound them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

FUTURE_SKEW = timedelta(minutes=5)
ORDER_TOLERANCE = timedelta(minutes=5)


def parse_time(text: str) -> datetime:
    """A stored ISO 8601 time (``Z`` or an offset) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def in_future(at: datetime, now: datetime) -> bool:
    return at > now + FUTURE_SKEW


def before(at: datetime, previous: str | datetime | None) -> bool:
    """Whether ``at`` is earlier than ``previous`` (a stored time) beyond the tolerance."""
    if previous is None:
        return False
    bound = parse_time(previous) if isinstance(previous, str) else previous
    return at < bound - ORDER_TOLERANCE
