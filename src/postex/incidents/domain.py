"""Export holds: the scope a hold covers, when it is in force, and which items it catches.

A scope is a conjunction of dimensions; an empty dimension means "any". No sites means
the whole network. ``goods_only`` narrows a scope to items that need a customs
declaration (they carry goods, or a CN22/CN23 is required): letters with documents only
keep flowing.

A subject (what an export action is about) is a mapping with ``service``,
``destination``, ``site``, ``has_goods``, ``customs_form`` and maybe ``item_id``. A key the
subject lacks counts as matching: when unsure, a hold stops the action.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from postex.items.domain.items import ItemState
from postex.kernel.countries import check_country
from postex.kernel.errors import FieldError, ValidationError
from postex.kernel.ids import S10
from postex.kernel.network import Network, load_network
from postex.kernel.reference import services
from postex.kernel.validation import Checker, as_mapping, reject_unknown

CONFIRM_WINDOW = timedelta(minutes=15)  # the two-person rule: a second ops user, in time
START_SKEW = timedelta(minutes=5)  # a start this far in the past still means "now"
MAX_SCHEDULE_AHEAD = timedelta(days=90)
MAX_REASON = 500
MAX_ADVISORY = 2000
MAX_RELEASE_ITEMS = 10_000
# Items the post holds physically at a site; pre-advised items are refused at acceptance.
HOLDABLE_STATES = frozenset({ItemState.ACCEPTED, ItemState.IN_RECEPTACLE})
SCOPE_FIELDS = {"sites", "destinations", "services", "goods_only"}
HOLD_FIELDS = {"scope", "reason", "advisory", "customer_facing", "starts_at", "emergency"}
RELEASE_FIELDS = {"items", "services", "reason", "emergency"}


@cache
def network() -> Network:
    """The packaged network (read once per process)."""
    return load_network()


class HoldStatus(StrEnum):
    PENDING = "pending"  # waiting for a second ops user's confirmation
    EXPIRED = "expired"  # not confirmed in time: never took effect
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    RELEASED = "released"


LIVE = frozenset({HoldStatus.PENDING, HoldStatus.SCHEDULED, HoldStatus.ACTIVE})


@dataclass(frozen=True)
class Scope:
    sites: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    goods_only: bool = False

    @property
    def network_wide(self) -> bool:
        return not self.sites

    def to_dict(self) -> dict[str, Any]:
        return {
            "sites": list(self.sites),
            "destinations": list(self.destinations),
            "services": list(self.services),
            "goods_only": self.goods_only,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scope:
        """Rebuild a scope stored in an event (already validated when it was placed)."""
        return cls(
            tuple(data.get("sites", ())),
            tuple(data.get("destinations", ())),
            tuple(data.get("services", ())),
            bool(data.get("goods_only", False)),
        )

    def matches(self, subject: Mapping[str, Any]) -> bool:
        """Whether an action on ``subject`` falls inside this scope."""
        for values, key in (
            (self.sites, "site"),
            (self.destinations, "destination"),
            (self.services, "service"),
        ):
            if values and key in subject and subject[key] not in values:
                return False
        if self.goods_only and ("has_goods" in subject or "customs_form" in subject):
            return bool(subject.get("has_goods")) or subject.get("customs_form") is not None
        return True

    def overlaps(self, other: Scope) -> bool:
        """Whether some item could fall inside both scopes (goods_only never separates)."""
        return all(
            not a or not b or bool(set(a) & set(b))
            for a, b in (
                (self.sites, other.sites),
                (self.destinations, other.destinations),
                (self.services, other.services),
            )
        )

    def describe(self) -> str:
        parts = [f"sites {', '.join(self.sites)}" if self.sites else "the whole network"]
        if self.destinations:
            parts.append(f"to {', '.join(self.destinations)}")
        if self.services:
            parts.append(f"services {', '.join(self.services)}")
        if self.goods_only:
            parts.append("items with goods only")
        return "; ".join(parts)


def _codes(data: Mapping[str, Any], key: str, c: Checker, check: Any) -> tuple[str, ...]:
    value = data.get(key, [])
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 300:
        c.fail(key, "type", value, f"{key} must be a list of at most 300 codes")
        return ()
    out: list[str] = []
    for i, code in enumerate(value):
        try:
            out.append(check(code, c.path(f"{key}[{i}]")))
        except ValidationError as exc:
            c.errors.extend(exc.errors)
    return tuple(sorted(set(out)))


def _site(code: object, field: str) -> str:
    if isinstance(code, str) and code in {s.code for s in network().sites}:
        return code
    known = ", ".join(s.code for s in network().sites)
    raise ValidationError.single(field, "unknown_site", code, f"site must be one of: {known}")


def _service(code: object, field: str) -> str:
    return services().get(code, field).code


def parse_scope(value: object, field: str = "scope") -> Scope:
    """Validate a scope: known sites (the network file), ISO countries, known services."""
    data = as_mapping(value, field)
    c = Checker(field)
    reject_unknown(data, SCOPE_FIELDS, c)
    sites = _codes(data, "sites", c, _site)
    destinations = _codes(data, "destinations", c, check_country)
    svcs = _codes(data, "services", c, _service)
    goods_only = data.get("goods_only", False)
    if not isinstance(goods_only, bool):
        c.fail("goods_only", "type", goods_only, "goods_only must be true or false")
    c.done()
    return Scope(sites, destinations, svcs, bool(goods_only))


def parse_time(value: object, field: str) -> datetime:
    """An RFC 3339 time with an offset, e.g. ``2023-01-11T09:00:00Z``."""
    if isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is not None:
                return moment.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    raise ValidationError.single(
        field, "rfc3339", value, f"{field} must be a time with an offset, e.g. 2023-01-11T09:00Z"
    )


@dataclass(frozen=True)
class HoldRequest:
    scope: Scope
    reason: str
    advisory: str | None
    customer_facing: bool
    starts_at: datetime
    emergency: bool


def _flag(data: Mapping[str, Any], key: str, default: bool, c: Checker) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        c.fail(key, "type", value, f"{key} must be true or false")
        return default
    return value


def parse_hold(value: object, now: datetime) -> HoldRequest:
    """Validate a hold; every broken rule is reported together.

    A customer-facing hold (the default) needs a non-empty advisory: customers are told
    exactly what to do. ``starts_at`` absent, or at most 5 minutes ago, means now.
    """
    data = as_mapping(value, "hold")
    c = Checker()
    reject_unknown(data, HOLD_FIELDS, c)
    scope = c.run(lambda: parse_scope(data.get("scope", {})))
    reason = c.text(data, "reason", max_len=MAX_REASON)
    customer_facing = _flag(data, "customer_facing", True, c)
    emergency = _flag(data, "emergency", False, c)
    advisory = c.text(data, "advisory", required=customer_facing, max_len=MAX_ADVISORY)
    starts_at = now
    raw_start = data.get("starts_at")
    if raw_start not in (None, "now"):
        moment = c.run(lambda: parse_time(raw_start, "starts_at"))
        if moment is not None and moment < now - START_SKEW:
            c.fail("starts_at", "not_past", raw_start, "starts_at must be now or in the future")
        elif moment is not None and moment > now + MAX_SCHEDULE_AHEAD:
            c.fail("starts_at", "too_far", raw_start, "starts_at is at most 90 days ahead")
        elif moment is not None:
            starts_at = max(moment, now)
    c.done()
    assert scope is not None and reason is not None
    return HoldRequest(scope, reason, advisory, customer_facing, starts_at, emergency)


@dataclass(frozen=True)
class ReleaseRequest:
    items: tuple[str, ...]  # empty: every held item, and the hold ends
    services: tuple[str, ...]  # release only held items of these services (hold stays)
    reason: str
    emergency: bool

    @property
    def complete(self) -> bool:
        return not self.items and not self.services


def parse_release(value: object) -> ReleaseRequest:
    """Validate a release: all at once, or only listed items, or only some services."""
    data = as_mapping(value if value is not None else {}, "release")
    c = Checker()
    reject_unknown(data, RELEASE_FIELDS, c)
    raw_items = data.get("items") or []
    items: list[str] = []
    if not isinstance(raw_items, list) or len(raw_items) > MAX_RELEASE_ITEMS:
        c.fail("items", "type", None, f"items must be a list of at most {MAX_RELEASE_ITEMS} ids")
    else:
        for i, raw in enumerate(raw_items):
            try:
                items.append(str(S10.parse(raw, f"items[{i}]")))
            except ValidationError as exc:
                c.errors.extend(exc.errors)
    svcs = _codes(data, "services", c, _service)
    reason = c.text(data, "reason", required=False, max_len=MAX_REASON) or ""
    emergency = _flag(data, "emergency", False, c)
    if items and svcs:
        c.errors.append(
            FieldError("services", "exclusive", list(svcs), "give items or services, not both")
        )
    c.done()
    return ReleaseRequest(tuple(sorted(set(items))), svcs, reason, emergency)


HOLD_ID = re.compile(r"hold_[0-9a-f]{20}")
ADVISORY_ID = re.compile(r"adv_[0-9a-f]{20}")


def well_formed(pattern: re.Pattern[str], value: object) -> bool:
    """Whether an id could be one of ours (anything else is simply not found)."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def hold_status(
    *,
    now: datetime,
    placed_at: datetime,
    starts_at: datetime,
    confirmed: bool,
    released: bool,
) -> HoldStatus:
    """Where a hold stands at ``now``; ``confirmed`` is true when no confirmation is needed."""
    if released:
        return HoldStatus.RELEASED
    if not confirmed:
        return HoldStatus.PENDING if now - placed_at <= CONFIRM_WINDOW else HoldStatus.EXPIRED
    return HoldStatus.ACTIVE if starts_at <= now else HoldStatus.SCHEDULED


def within_window(requested_at: datetime, now: datetime) -> bool:
    return now - requested_at <= CONFIRM_WINDOW
