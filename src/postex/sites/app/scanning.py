"""One scan at the console: accept the item and say, in plain words, what happened.

The console's scan field calls :func:`scan_at_counter`, which calls the same
:func:`~postex.sites.app.acceptance.accept` as ``POST /api/v1/sites/{site}/acceptances``
and, when the item is accepted, :func:`~postex.sites.app.routing.which_bag`. The outcome
is one of three: accepted, refused (each rule broken, with what to do) or held (the hold
and its advisory). Errors that are not about the item (another site, a role that may not
accept, no session) are raised, as everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from postex.accounts.app.auth import Principal
from postex.kernel.errors import FieldError, HeldError, ValidationError
from postex.sites.app.acceptance import Scan, accept
from postex.sites.app.ops import SITE_ROLES, ReceptacleRecord, SiteOps
from postex.sites.app.receptacles import add_items
from postex.sites.app.routing import BagAdvice, which_bag


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    HELD = "held"


@dataclass(frozen=True)
class ScanResult:
    outcome: Outcome
    item_id: str
    problems: tuple[FieldError, ...] = ()
    hold_id: str | None = None
    advisory: str | None = None
    detail: str = ""
    bag: BagAdvice | None = None
    events: tuple[str, ...] = field(default=())


def typed_id(text: str) -> str:
    """The item id as typed or scanned: a person may type lower case and spaces."""
    return text.replace(" ", "").strip().upper()


def _weight(text: str) -> int:
    cleaned = text.strip().lower().removesuffix("g").strip()
    if not cleaned.isdigit() or int(cleaned) <= 0:
        raise ValidationError.single(
            "weight_g", "required", text or None,
            "weigh the item and type its weight in whole grams",
        )  # fmt: skip
    return int(cleaned)


def scan_at_counter(
    ops: SiteOps, p: Principal, site_code: str, item_text: str, weight_text: str
) -> ScanResult:
    """Accept one scanned item at ``site_code``; refusals and holds are results, not errors.

    Raises NotFoundError for another site of a site-bound user and ForbiddenError for a
    role that may not accept, exactly as the API does.
    """
    ops.site(p, site_code, SITE_ROLES)  # who and where first, as the API does
    item_id = typed_id(item_text)
    try:
        weight = _weight(weight_text)
        done = accept(ops, p, site_code, [Scan(item_id, weight)])
    except HeldError as exc:
        advisory = exc.extra.get("advisory")
        return ScanResult(Outcome.HELD, item_id, hold_id=exc.extra.get("hold_id"),
                          advisory=str(advisory) if advisory else None,
                          detail=exc.detail)  # fmt: skip
    except ValidationError as exc:
        return ScanResult(Outcome.REFUSED, item_id, tuple(exc.errors), detail=exc.detail)
    bag = which_bag(ops, p, site_code, item_id)
    return ScanResult(Outcome.ACCEPTED, item_id, bag=bag, events=done[0].events)


@dataclass(frozen=True)
class BagScan:
    """One item scanned into an open bag: bagged (accepted), refused or held."""

    outcome: Outcome
    item_id: str
    receptacle: ReceptacleRecord | None = None
    problems: tuple[FieldError, ...] = ()
    hold_id: str | None = None
    detail: str = ""


def scan_into_bag(ops: SiteOps, p: Principal, site_code: str, rid: str, item_text: str) -> BagScan:
    """Put one scanned item into open bag ``rid`` with the same :func:`add_items` as
    ``POST …/receptacles/{rid}/items``; refusals and holds are results. A closed or missing
    bag, another site or a role that may not bag raise, as in the API."""
    ops.site(p, site_code, SITE_ROLES)
    item_id = typed_id(item_text)
    try:
        record = add_items(ops, p, site_code, rid, [item_id])
    except HeldError as exc:
        return BagScan(Outcome.HELD, item_id, hold_id=exc.extra.get("hold_id"), detail=exc.detail)
    except ValidationError as exc:
        problems = tuple(FieldError("item_id", e.rule, e.value, e.message) for e in exc.errors)
        return BagScan(Outcome.REFUSED, item_id, problems=problems, detail=exc.detail)
    return BagScan(Outcome.ACCEPTED, item_id, receptacle=record)
