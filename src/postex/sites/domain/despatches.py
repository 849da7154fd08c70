"""Despatches: composing closed receptacles into one, and the life of a despatch after that.

``open`` (composed) → ``closed`` (bill and messages written, items despatched) →
``handed_over`` (to the carrier, items in transit) → ``in_custody`` (carrier RESDIT 74) →
``delivered`` (RESDIT 21 for every receptacle). A composed despatch whose last bag a
supervisor takes out is ``cancelled``; its number stays used.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from postex.kernel.dispatch_ids import DESPATCH_SERIAL_MAX, ReceptacleId
from postex.kernel.errors import ConflictError, FieldError, InvalidStateError, ValidationError


class DespatchState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    HANDED_OVER = "handed_over"
    IN_CUSTODY = "in_custody"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


D = DespatchState
NEXT: dict[DespatchState, frozenset[DespatchState]] = {
    D.OPEN: frozenset({D.CLOSED, D.CANCELLED}),
    D.CLOSED: frozenset({D.HANDED_OVER}),
    D.HANDED_OVER: frozenset({D.IN_CUSTODY, D.DELIVERED}),
    D.IN_CUSTODY: frozenset({D.IN_CUSTODY, D.DELIVERED}),
    D.DELIVERED: frozenset(),
    D.CANCELLED: frozenset(),
}
HINTS = {
    (D.OPEN, D.HANDED_OVER): "close it first (POST …/close with the planned flight)",
    (D.CLOSED, D.CLOSED): "it is closed already: hand it over to the carrier",
    (D.OPEN, D.IN_CUSTODY): "it has not been handed over yet",
    (D.CLOSED, D.IN_CUSTODY): "it has not been handed over yet",
}
CARRIER_CODES = {"74": "in_custody", "21": "delivered"}


def advance(despatch_id: str, current: str, target: DespatchState) -> DespatchState:
    """Return ``target`` if despatch ``despatch_id`` may move there; raise otherwise."""
    src = DespatchState(current)
    if target not in NEXT[src]:
        hint = HINTS.get((src, target), "")
        raise InvalidStateError(
            f"despatch {despatch_id} is {src}; it cannot become {target}"
            + (f": {hint}" if hint else ""),
            rule="despatch_state",
            state=str(src),
            target=str(target),
        )
    return target


def bill_form(subclass: str) -> str:
    """CN31 letter bill for letter post (subclass U…); CN38 delivery bill for air parcels/EMS."""
    return "CN31" if subclass.startswith("U") else "CN38"


def next_serial(last: int | None) -> int:
    """The next despatch serial of a series this year (gapless from 1)."""
    serial = (last or 0) + 1
    if serial > DESPATCH_SERIAL_MAX:
        raise ConflictError(
            "this series has used all 9999 despatch numbers of the year", rule="serials_exhausted"
        )
    return serial


def check_composition(ids: Sequence[ReceptacleId], missing: Sequence[str] = ()) -> None:
    """Closed receptacles make one despatch when they share its S8 id and number 1…n.

    ``missing`` are closed receptacles of the same pending despatch left off the list.
    """
    if not ids:
        raise ValidationError.single(
            "receptacle_ids", "required", [], "list the closed receptacles of the despatch"
        )
    first = ids[0].despatch
    errors = [
        FieldError(
            f"receptacle_ids[{i}]",
            "other_series",
            str(r),
            f"belongs to despatch {r.despatch}, not {first}: compose each series separately",
        )
        for i, r in enumerate(ids)
        if r.despatch != first
    ]
    if errors:
        raise ValidationError(errors)
    if missing:
        raise ValidationError.single(
            "receptacle_ids",
            "incomplete",
            list(missing),
            f"{len(missing)} closed receptacle(s) of despatch {first} are not listed: "
            "add them to the list",
        )
    serials = sorted(r.receptacle_serial for r in ids)
    if serials != list(range(1, len(ids) + 1)):
        raise ValidationError.single(
            "receptacle_ids", "serials", serials, "receptacle serials must run 1…n"
        )
    last = max(ids, key=lambda r: r.receptacle_serial)
    early = [str(r) for r in ids if r.highest == 1 and r is not last]
    if early:
        raise ValidationError.single(
            "receptacle_ids", "highest", early, "only the last receptacle may be marked highest"
        )
