"""Failover and failback of a lost site: the rules, without I/O.

A failover of site A to site B moves A's routes to B (every route whose origin is A leaves
from B) and hands B the items A had accepted but not despatched. It is asked for by one
operations lead and confirmed by a second, different one within the same 15-minute window
as export holds. A failback of A ends the failover; items already moved stay where they are.

The application supplies the active failovers (lost site -> survivor) and the pending
requests; these functions say what is wrong, naming field, rule and value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from postex.kernel.errors import ConflictError, ValidationError
from postex.kernel.network import Route, Site
from postex.kernel.validation import Checker

FAILOVER_ID = re.compile(r"fov_[0-9a-f]{20}")
MAX_REASON = 500
ABANDONED_REASON = "failover"  # what the receptacles of a lost site are recorded with


class RequestKind(StrEnum):
    FAILOVER = "failover"
    FAILBACK = "failback"


class RequestStatus(StrEnum):
    PENDING = "pending"  # waits for a second operations lead
    EXPIRED = "expired"  # not confirmed within the window: ask again
    ACTIVE = "active"  # a confirmed failover still in force
    ENDED = "ended"  # a confirmed failover a failback ended
    DONE = "done"  # a confirmed failback


@dataclass(frozen=True)
class FailoverAsk:
    """A request as typed: which site is lost, which survives, and why."""

    from_site: str
    to_site: str
    reason: str


def well_formed(value: object) -> bool:
    return isinstance(value, str) and FAILOVER_ID.fullmatch(value) is not None


def _reason(value: object) -> str:
    checker = Checker()
    reason = checker.text({"reason": value}, "reason", min_len=3, max_len=MAX_REASON)
    checker.done()
    assert reason is not None
    return reason


def _site_code(field: str, value: object, sites: Mapping[str, Site]) -> str:
    if not isinstance(value, str) or value.strip().upper() not in sites:
        raise ValidationError.single(
            field, "unknown_site", value,
            f"{field} is one of our sites' IMPC codes: {', '.join(sorted(sites))}",
        )  # fmt: skip
    return value.strip().upper()


def parse_failover(payload: object, sites: Iterable[Site]) -> FailoverAsk:
    """``{"from_site", "to_site", "reason"}``: two different known sites, the survivor an
    office of exchange, and a reason of 3 to 500 characters."""
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "type", None, "send a JSON object")
    known = {s.code: s for s in sites}
    from_site = _site_code("from_site", payload.get("from_site"), known)
    to_site = _site_code("to_site", payload.get("to_site"), known)
    if from_site == to_site:
        raise ValidationError.single(
            "to_site", "same_site", to_site, "a site fails over to another site, not to itself"
        )
    if not known[to_site].is_office_of_exchange:
        raise ValidationError.single(
            "to_site", "not_office_of_exchange", to_site,
            f"{to_site} despatches no mail abroad: choose an office of exchange",
        )  # fmt: skip
    return FailoverAsk(from_site, to_site, _reason(payload.get("reason")))


def parse_failback(payload: object, sites: Iterable[Site]) -> tuple[str, str]:
    """``{"site", "reason"}``: the site whose failover ends, and why."""
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "type", None, "send a JSON object")
    site = _site_code("site", payload.get("site"), {s.code: s for s in sites})
    return site, _reason(payload.get("reason"))


def check_failover(ask: FailoverAsk, active: Mapping[str, str]) -> None:
    """Refuse a failover that contradicts those in force (``active``: lost -> survivor)."""
    if ask.from_site in active:
        raise ConflictError(
            f"{ask.from_site} is failed over to {active[ask.from_site]} already;"
            " fail it back first",
            rule="already_failed_over", field="from_site", value=ask.from_site,
        )  # fmt: skip
    if ask.to_site in active:
        raise ConflictError(
            f"the survivor {ask.to_site} is itself failed over to {active[ask.to_site]}:"
            " choose a site that is working",
            rule="survivor_failed_over", field="to_site", value=ask.to_site,
        )  # fmt: skip


def check_failback(site: str, active: Mapping[str, str]) -> str:
    """The survivor ``site`` is failed over to; ConflictError when it is not failed over."""
    if site not in active:
        raise ConflictError(
            f"{site} is not failed over: there is nothing to fail back",
            rule="not_failed_over", field="site", value=site,
        )  # fmt: skip
    return active[site]


def survivor(site: str, active: Mapping[str, str]) -> str:
    """Where ``site``'s routes leave from: the survivor it is failed over to, followed
    through a chain (A to B, then B to C: A's routes leave from C); itself otherwise."""
    seen = {site}
    while site in active and active[site] not in seen:
        site = active[site]
        seen.add(site)
    return site


def effective_routes(routes: Iterable[Route], active: Mapping[str, str]) -> tuple[Route, ...]:
    """The network file's routes with each failed-over origin replaced by its survivor."""
    if not active:
        return tuple(routes)
    out = []
    for r in routes:
        origin = survivor(r.origin, active)
        out.append(r if origin == r.origin else _with_origin(r, origin))
    return tuple(out)


def _with_origin(r: Route, origin: str) -> Route:
    return Route(r.destination_country, r.mail_class, origin, r.destination, r.category,
                 r.subclass, r.carrier)  # fmt: skip
