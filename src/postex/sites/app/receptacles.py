"""Receptacles at a site: open for a series, add and remove items, close with an S9 id,
and (supervisors) reopen a closed one with a reason.

Every change is one event in the site's log plus an audit event, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Principal
from postex.eventlog.context import new_id
from postex.eventlog.ports import UnitOfWork
from postex.incidents.app.policy import HoldRepository
from postex.items.app.preadvice import ItemRecord
from postex.items.domain.items import ItemState
from postex.kernel.dispatch_ids import ReceptacleId
from postex.kernel.errors import (
    FieldError,
    HeldError,
    InvalidStateError,
    NotFoundError,
    ValidationError,
)
from postex.kernel.ids import S10
from postex.kernel.network import Site
from postex.kernel.reference import services
from postex.sites.app.acceptance import item_subject
from postex.sites.app.ops import (
    READING_ROLES,
    SITE_ROLES,
    SUPERVISING_ROLES,
    HandlingRecord,
    Position,
    ReceptacleRecord,
    SiteOps,
    SiteOpsRepository,
    check_listing,
)
from postex.sites.app.routing import refuse_other_origin, route_problems
from postex.sites.domain.despatches import next_serial
from postex.sites.domain.receptacles import (
    ReceptacleState,
    Series,
    check_closing,
    check_reason,
    closed_id,
    fits,
    free_serial,
)
from postex.sites.domain.transfers import bag_site_problem, handled_at
from postex.sites.events import (
    BaggedItem,
    ReceptacleClosed,
    ReceptacleItemRemoved,
    ReceptacleItemsAdded,
    ReceptacleOpened,
    ReceptacleReopened,
)


@dataclass(frozen=True)
class ClosedReceptacle:
    record: ReceptacleRecord
    s9: str


def _series(
    ops: SiteOps, site: Site, destination: object, category: object, subclass: object
) -> Series:
    wanted = (site.code, destination, category, subclass)
    for r in ops.network.routes:
        if (r.origin, r.destination, r.category, r.subclass) == wanted:
            return Series(site.code, r.destination, r.category, r.subclass)
    refuse_other_origin(ops, site, destination, category, subclass)
    raise ValidationError.single(
        "destination",
        "no_route",
        f"{destination}/{category}/{subclass}",
        f"{site.code} despatches no mail to {destination} in category {category}, subclass"
        f" {subclass}: check the routing table for this site",
    )


def open_receptacle(
    ops: SiteOps, p: Principal, site_code: str, destination: str, category: str, subclass: str
) -> ReceptacleRecord:
    """Open a receptacle for a series this site despatches (ValidationError otherwise)."""
    site = ops.site(p, site_code, SITE_ROLES)
    series = _series(ops, site, destination, category, subclass)
    rid = new_id("rcp")
    with ops.ctx.store.write(site.code) as uow:
        uow.append(
            [
                ReceptacleOpened(
                    receptacle_id=rid,
                    site=site.code,
                    destination=series.destination,
                    category=series.category,
                    subclass=series.subclass,
                ),
                audit_event(p.actor(), "receptacle.opened", rid),
            ]
        )
        return _get(uow, site.code, rid)


def _get(uow: UnitOfWork, site: str, rid: str) -> ReceptacleRecord:
    record = uow.repo(SiteOpsRepository).receptacle(site, rid)
    if record is None:
        raise NotFoundError(f"no receptacle {rid} at {site}")
    return record


def _require_open(r: ReceptacleRecord) -> None:
    if r.state == ReceptacleState.ABANDONED:
        raise InvalidStateError(
            f"receptacle {r.id} was abandoned when {r.site} failed over: it is never closed"
            " or despatched; its items are handled by the survivor",
            rule="receptacle_abandoned", field="receptacle_id", value=r.id,
        )  # fmt: skip
    if r.state != ReceptacleState.OPEN:
        raise InvalidStateError(
            f"receptacle {r.id} is {r.state}: open a new receptacle for these items",
            rule="receptacle_closed",
        )


def _fit_problems(
    ops: SiteOps,
    r: ReceptacleRecord,
    item_id: str,
    item: ItemRecord | None,
    h: HandlingRecord | None,
) -> list[FieldError]:
    if item is None:
        return [
            FieldError(
                "item_id", "unknown_item", item_id, "no such item: accept it at the counter first"
            )
        ]
    if item.state != ItemState.ACCEPTED:
        why = (
            "it is in a receptacle already: remove it there first"
            if item.state == ItemState.IN_RECEPTACLE
            else "accept it first"
        )
        why = handled_at(f"item is {item.state}: {why}", h.site if h else None, r.site)
        return [FieldError("item_id", f"state_{item.state}", item_id, why)]
    elsewhere = bag_site_problem(
        item_id, h.site if h else None, h.transfer_to if h else None, r.site
    )
    if elsewhere is not None:
        return [elsewhere]
    if h is not None and h.receptacle_id:
        return [
            FieldError("item_id", "in_other_receptacle", item_id, f"item is in {h.receptacle_id}")
        ]
    return route_problems(ops, r, item_id, item)


def add_items(
    ops: SiteOps, p: Principal, site_code: str, rid: str, item_ids: Sequence[str]
) -> ReceptacleRecord:
    """Put accepted items into an open receptacle of their series, all or none.

    Refused: unknown, not accepted, already in a receptacle, held, of another
    destination/class/category, twice in the list, or over the receptacle's weight limit.
    """
    site = ops.site(p, site_code, SITE_ROLES)
    if not item_ids or len(item_ids) > ops.rules.max_batch:
        raise ValidationError.single(
            "item_ids", "count", len(item_ids), f"send 1 to {ops.rules.max_batch} item ids"
        )
    for i, item_id in enumerate(item_ids):
        try:
            S10.parse(item_id)
        except ValidationError as exc:
            raise exc.nested(f"item_ids[{i}]") from None
    with ops.ctx.store.write(site.code) as uow:
        repo = uow.repo(SiteOpsRepository)
        r = _get(uow, site.code, rid)
        _require_open(r)
        items = repo.items(item_ids)
        handling = repo.handling(item_ids)
        held = [i for i in item_ids if i in items and items[i].state == ItemState.HELD]
        if held:
            raise HeldError(
                f"item {held[0]} is held: set it aside until the hold is released", item_id=held[0]
            )
        errors: list[FieldError] = []
        seen: set[str] = set()
        content = r.content_g
        bagged: list[BaggedItem] = []
        for i, item_id in enumerate(item_ids):
            h = handling.get(item_id)
            found = _fit_problems(ops, r, item_id, items.get(item_id), h)
            if not found and item_id in seen:
                found = [FieldError("item_id", "duplicate", item_id, "listed twice")]
            seen.add(item_id)
            weight = h.measured_g if h else 0
            if not found and (over := fits(content, weight, ops.rules.receptacle_limit_g)):
                found = [over]
            content += weight
            bagged.append(BaggedItem(item_id, weight))
            errors.extend(e.at(f"item_ids[{i}]") for e in found)
        if errors:
            raise ValidationError(errors)
        for item_id in item_ids:
            ops.ctx.enforce(uow, "receptacle", item_subject(items[item_id], site.code))
        uow.append(
            [
                ReceptacleItemsAdded.of(rid, site.code, bagged),
                audit_event(
                    p.actor(), "receptacle.items_added", rid, details={"count": len(item_ids)}
                ),
            ]
        )
        return _get(uow, site.code, rid)


def remove_item(
    ops: SiteOps, p: Principal, site_code: str, rid: str, item_id: str
) -> ReceptacleRecord:
    """Take an item out of an open receptacle; it is accepted again (or stays held)."""
    site = ops.site(p, site_code, SITE_ROLES)
    S10.parse(item_id)
    with ops.ctx.store.write(site.code) as uow:
        r = _get(uow, site.code, rid)
        _require_open(r)
        repo = uow.repo(SiteOpsRepository)
        h = repo.handling([item_id]).get(item_id)
        if h is None or h.receptacle_id != rid:
            raise NotFoundError(f"item {item_id} is not in receptacle {rid}")
        held = repo.items([item_id])[item_id].state == ItemState.HELD
        uow.append(
            [
                ReceptacleItemRemoved(
                    receptacle_id=rid,
                    site=site.code,
                    item_id=item_id,
                    weight_g=h.measured_g,
                    held=held,
                ),
                audit_event(
                    p.actor(), "receptacle.item_removed", rid, details={"item_id": item_id}
                ),
            ]
        )
        return _get(uow, site.code, rid)


def close_receptacle(
    ops: SiteOps,
    p: Principal,
    site_code: str,
    rid: str,
    gross_weight_g: object,
    last: bool | None = None,
) -> ClosedReceptacle:
    """Close with the measured gross weight; the receptacle gets its S9 id.

    The despatch number is the next one of its series this year (the despatch it will be
    composed into); the receptacle serial is the lowest one free in it.
    ``last`` marks the highest receptacle of that despatch (True), another one (False) or
    is not known yet (None: indicator 9). Refused: an empty or closed
    receptacle, a weight below its contents or over the limit, and a receptacle after the
    one marked last.
    """
    site = ops.site(p, site_code, SITE_ROLES)
    with ops.ctx.store.write(site.code) as uow:
        repo = uow.repo(SiteOpsRepository)
        r = _get(uow, site.code, rid)
        _require_open(r)
        gross = check_closing(
            r.item_count, r.content_g, gross_weight_g, ops.rules.receptacle_limit_g
        )
        inside = [h.item_id for h in repo.receptacle_items(rid)]
        _refuse_held(uow, rid, inside)
        registered = any(_registered(i) for i in inside)
        s9 = number(ops, uow, r, last, registered, gross)
        uow.append(
            [
                ReceptacleClosed(
                    receptacle_id=rid,
                    site=site.code,
                    s9=str(s9),
                    gross_weight_g=gross,
                    year_digit=s9.despatch.year_digit,
                    despatch_serial=s9.despatch.serial,
                    receptacle_serial=s9.receptacle_serial,
                    highest=s9.highest,
                    registered=s9.registered,
                ),
                audit_event(p.actor(), "receptacle.closed", rid, details={"s9": str(s9)}),
            ]
        )
        return ClosedReceptacle(_get(uow, site.code, rid), str(s9))


def number(
    ops: SiteOps,
    uow: UnitOfWork,
    r: ReceptacleRecord,
    last: bool | None,
    registered: bool,
    gross: int,
) -> ReceptacleId:
    """The S9 id of ``r`` closing now: in the next despatch of its series this year (the one
    it will be composed into), with the lowest receptacle serial free in it.

    InvalidStateError (``despatch_complete``) when that despatch's last bag is closed.
    """
    repo = uow.repo(SiteOpsRepository)
    year = ops.ctx.clock.now().year % 10
    key = (r.destination, r.category, r.subclass)
    serial = next_serial(repo.last_despatch_serial(r.site, key, year))
    pending = [x for x in repo.pending(r.site, key, year, serial) if x.id != r.id and x.s9]
    if any(x.s9 and x.s9[23] == "1" for x in pending):
        raise InvalidStateError(
            f"the last receptacle of despatch {serial:04d} is closed: compose that despatch"
            " before closing more receptacles of the series",
            rule="despatch_complete",
        )
    used = [ReceptacleId.parse(x.s9).receptacle_serial for x in pending if x.s9]
    return closed_id(Series(r.site, *key), year, serial, free_serial(used), last, registered, gross)


def reopen_receptacle(
    ops: SiteOps, p: Principal, site_code: str, rid: str, reason: object
) -> ReceptacleRecord:
    """Open a closed bag again (supervisors and ops), so that items can be taken out: a
    held item, most often. Its S9 id is void; closing it again gives it a new one (and a
    new CN35). A bag in a despatch is taken out of the despatch first."""
    site = ops.site(p, site_code, SUPERVISING_ROLES)
    why = check_reason(reason)
    with ops.ctx.store.write(site.code) as uow:
        r = _get(uow, site.code, rid)
        if r.state != ReceptacleState.CLOSED or r.s9 is None:
            hint = (
                f"it is in despatch {r.despatch_id}: take it out of the despatch first"
                if r.state == ReceptacleState.IN_DESPATCH
                else "only a closed receptacle can be reopened"
            )
            raise InvalidStateError(
                f"receptacle {rid} is {r.state}: {hint}", rule=f"receptacle_{r.state}"
            )
        uow.append(
            [
                ReceptacleReopened(receptacle_id=rid, site=site.code, s9=r.s9, reason=why),
                audit_event(
                    p.actor(), "receptacle.reopened", rid, details={"s9": r.s9, "reason": why}
                ),
            ]
        )
        return _get(uow, site.code, rid)


def _refuse_held(uow: UnitOfWork, rid: str, item_ids: list[str]) -> None:
    """A receptacle is never closed with held items inside: they are to be taken out."""
    repo = uow.repo(SiteOpsRepository)
    held = sorted(i for i, item in repo.items(item_ids).items() if item.state == ItemState.HELD)
    if not held:
        return
    holds = uow.repo(HoldRepository).holding(held)
    listed = [{"item_id": i, "hold_id": holds.get(i)} for i in held]
    raise HeldError(
        f"receptacle {rid} contains {len(held)} held item(s): take them out"
        " (set them aside until their hold is released), then close it",
        rule="held_items",
        held_items=listed,
        hold_id=listed[0]["hold_id"],
    )


def _registered(item_id: str) -> bool:
    """Whether the item's service is registered or insured (the S9 registered flag)."""
    service = services().by_prefix(item_id[:2])
    return service is not None and service.registered


def get_receptacle(ops: SiteOps, p: Principal, site_code: str, rid: str) -> ReceptacleRecord:
    site = ops.site(p, site_code, READING_ROLES)
    with ops.ctx.store.read() as uow:
        return _get(uow, site.code, rid)


def receptacle_item_ids(ops: SiteOps, p: Principal, site_code: str, rid: str) -> list[str]:
    site = ops.site(p, site_code, READING_ROLES)
    with ops.ctx.store.read() as uow:
        _get(uow, site.code, rid)
        return [h.item_id for h in uow.repo(SiteOpsRepository).receptacle_items(rid)]


def list_receptacles(
    ops: SiteOps,
    p: Principal,
    site_code: str,
    state: str | None = None,
    after: Position | None = None,
    limit: int | None = None,
) -> list[ReceptacleRecord]:
    """The site's receptacles, oldest opened first, from after ``after``, at most ``limit``.

    ValidationError for an unknown state or a limit outside 1 to 1000.
    """
    site = ops.site(p, site_code, READING_ROLES)
    check_listing(state, list(ReceptacleState), limit)
    with ops.ctx.store.read() as uow:
        return uow.repo(SiteOpsRepository).receptacles(
            site.code, state=state, after=after, limit=limit
        )


def cn35_label(ops: SiteOps, p: Principal, site_code: str, rid: str) -> bytes:
    """The CN35 label of a closed receptacle, with its S9 barcode."""
    r = get_receptacle(ops, p, site_code, rid)
    if r.s9 is None:
        raise InvalidStateError(
            f"receptacle {rid} is open: close it to print its label", rule="receptacle_open"
        )
    route = next(
        x
        for x in ops.network.routes
        if (x.origin, x.destination, x.subclass) == (r.site, r.destination, r.subclass)
    )
    return ops.docs.cn35(r, route.carrier.code)
