"""Export holds: place, confirm (two-person rule), release, list; and the held-items queue.

Placing a hold that is in force selects the accepted items in its scope in the use case
and lists them, with the state each is held from, in ``hold.items_held.v1`` events of at
most 1,000 items: the projection only applies what the events say, so a rebuild holds
exactly the same items. Releasing lists each item with the state it returns to.

Supervisors hold their own site; ops any scope. A network-wide hold, and any release of
one, waits for a second, different ops user's confirmation within 15 minutes unless the
caller declares an emergency, which is itself audited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import NETWORK_ROLES, STAFF_ROLES, Principal, Role, require_roles
from postex.eventlog.catalogue import Event
from postex.eventlog.chain import format_time
from postex.eventlog.context import Context, new_id
from postex.eventlog.ports import UnitOfWork
from postex.incidents.app.advisories import (
    closed_event,
    is_open,
    published_event,
    updated_event,
)
from postex.incidents.app.policy import (
    FlaggedReceptacle,
    HeldItem,
    HoldRecord,
    HoldRepository,
    ReleaseOutcome,
    parse_stamp,
)
from postex.incidents.domain import (
    HOLD_ID,
    LIVE,
    HoldRequest,
    HoldStatus,
    Scope,
    network,
    parse_hold,
    parse_release,
    parse_scope,
    well_formed,
    within_window,
)
from postex.incidents.events import (
    HoldActivated,
    HoldConfirmed,
    HoldItemsHeld,
    HoldItemsReleased,
    HoldPlaced,
    HoldReleased,
    HoldReleaseRequested,
)
from postex.items.domain.items import release_target
from postex.kernel.errors import (
    ConflictError,
    FieldError,
    ForbiddenError,
    InvalidStateError,
    NotFoundError,
    ValidationError,
)
from postex.kernel.ids import S10

Listing = TypeVar("Listing", HoldItemsHeld, HoldItemsReleased)
CHUNK = 1000  # items per event: events stay small enough to replicate (NATS: 1 MB a message)


# --- authorization -------------------------------------------------------------------
def _may_hold(p: Principal, scope: Scope) -> None:
    require_roles(p, Role.SUPERVISOR, Role.OPS)
    if p.role is Role.SUPERVISOR and scope.sites != (p.site,):
        raise ForbiddenError(
            f"a supervisor holds exports at their own site only: scope.sites must be [{p.site}]",
            rule="own_site",
            field="scope.sites",
        )


def _visible(p: Principal, hold: HoldRecord) -> bool:
    return p.role in NETWORK_ROLES or not hold.scope.sites or p.site in hold.scope.sites


def _get(uow: UnitOfWork, p: Principal, hold_id: str) -> HoldRecord:
    hold = uow.repo(HoldRepository).get(hold_id) if well_formed(HOLD_ID, hold_id) else None
    if hold is None or not _visible(p, hold):
        raise NotFoundError(f"no hold {hold_id}")
    return hold


# --- helpers that build events -------------------------------------------------------
def _holding(uow: UnitOfWork, scope: Scope) -> list[list[str]]:
    return [[i, s, site] for i, s, site in uow.repo(HoldRepository).candidates(scope)]


def _chunks(kind: type[Listing], hold_id: str, items: Sequence[list[str]]) -> list[Listing]:
    """The items a hold holds or releases, in events of at most CHUNK items each."""
    return [
        kind(hold_id=hold_id, items=list(items[n : n + CHUNK])) for n in range(0, len(items), CHUNK)
    ]


def _advisory_events(
    hold_id: str, req: HoldRequest, starts_at: str
) -> tuple[str | None, list[Event]]:
    if not req.customer_facing or not req.advisory:
        return None, []
    advisory_id = new_id("adv")
    return advisory_id, [published_event(advisory_id, hold_id, req.advisory, req.scope, starts_at)]


def activate_due(ctx: Context) -> int:
    """Hold the items of scheduled holds whose start has come; return the events written.

    Runs in every background worker round (:func:`activation_chore`) and before each hold
    use case, so a scheduled hold takes effect at its start even when nobody looks at
    holds. Idempotent and safe with several workers on one store: due holds are read again
    under the site's writer lock, and one already activated is skipped.
    """
    now = ctx.clock.now()
    with ctx.store.read() as uow:
        # Only the node whose log holds the hold activates it: every site of a network
        # knows the hold (fan-out), but its items must be listed once (docs/log-format.md).
        due = [h for h in uow.repo(HoldRepository).live()
               if _due(h, now) and h.origin in (None, ctx.site)]  # fmt: skip
    if not due:
        return 0
    with ctx.store.write(ctx.site) as uow:
        repo = uow.repo(HoldRepository)
        events: list[HoldActivated | HoldItemsHeld] = []
        for h in due:
            fresh = repo.get(h.id)
            if fresh is not None and _due(fresh, now):
                items = _holding(uow, fresh.scope)
                events += [
                    HoldActivated(hold_id=h.id, item_count=len(items)),
                    *_chunks(HoldItemsHeld, h.id, items),
                ]
        uow.append(events)
    return len(events)


def activation_chore(ctx: Context) -> Callable[[], int]:
    """The worker-loop step that activates scheduled holds (``serve`` and ``postex worker``)."""
    return lambda: activate_due(ctx)


def _due(h: HoldRecord, now: datetime) -> bool:
    return h.activated_at is None and h.status(now) is HoldStatus.ACTIVE


# --- use cases -----------------------------------------------------------------------
def place_hold(ctx: Context, p: Principal, payload: object) -> HoldRecord:
    """Place a hold. Raises ValidationError (bad scope, empty advisory, bad start),
    ForbiddenError (role, another site) or ConflictError (overlaps a live hold)."""
    now = ctx.clock.now()
    req = parse_hold(payload, now)
    _may_hold(p, req.scope)
    activate_due(ctx)
    hold_id = new_id("hold")
    needs_confirmation = req.scope.network_wide and not req.emergency
    starts_at = format_time(req.starts_at)
    with ctx.store.write(ctx.site) as uow:
        repo = uow.repo(HoldRepository)
        for other in repo.live():
            if other.status(now) in LIVE and other.scope.overlaps(req.scope):
                raise ConflictError(
                    f"the scope overlaps hold {other.id} ({other.scope.describe()}); "
                    "release or narrow that hold first",
                    rule="overlapping_hold",
                    hold_id=other.id,
                )
        in_force = not needs_confirmation and req.starts_at <= now
        items = _holding(uow, req.scope) if in_force else []
        advisory_id, adv_events = (
            (None, []) if needs_confirmation else _advisory_events(hold_id, req, starts_at)
        )
        placed = HoldPlaced(
            hold_id=hold_id,
            scope=req.scope.to_dict(),
            reason=req.reason,
            advisory=req.advisory,
            advisory_id=advisory_id,
            customer_facing=req.customer_facing,
            starts_at=starts_at,
            placed_by=p.actor(),
            emergency=req.emergency,
            needs_confirmation=needs_confirmation,
            in_force=in_force,
            item_count=len(items),
        )
        details = {"scope": req.scope.to_dict(), "items": len(items), "emergency": req.emergency}
        events: list[Event] = [placed, *_chunks(HoldItemsHeld, hold_id, items)]
        events += adv_events
        events.append(audit_event(p.actor(), "hold.placed", hold_id, req.reason, details))
        if req.emergency and req.scope.network_wide:
            events.append(
                audit_event(p.actor(), "hold.two_person_rule_bypassed", hold_id, req.reason)
            )
        uow.append(events)
        hold = repo.get(hold_id)
    assert hold is not None
    return hold


def confirm_hold(ctx: Context, p: Principal, hold_id: str) -> ReleaseOutcome:
    """A second ops user confirms a pending network-wide hold or its pending release."""
    require_roles(p, Role.OPS)
    now = ctx.clock.now()
    with ctx.store.write(ctx.site) as uow:
        hold = _get(uow, p, hold_id)
        status = hold.status(now)
        if status is HoldStatus.PENDING:
            _second_person(p, hold.placed_by, parse_stamp(hold.placed_at), now)
            return ReleaseOutcome(_confirm_placement(ctx, uow, p, hold, now))
        if hold.release_request is not None and status in LIVE:
            rr = hold.release_request
            _second_person(p, rr["requested_by"], parse_stamp(rr["requested_at"]), now)
            return _do_release(
                uow, p, hold, list(rr["items"]), list(rr["services"]), rr["reason"],
                request_id=rr["request_id"], requested_by=rr["requested_by"],
            )  # fmt: skip
        if status is HoldStatus.EXPIRED:
            raise InvalidStateError(
                f"hold {hold_id} was not confirmed within 15 minutes; place it again",
                rule="confirmation_expired",
            )
        raise InvalidStateError(f"hold {hold_id} has nothing waiting for confirmation",
                                rule="nothing_to_confirm")  # fmt: skip


def _second_person(p: Principal, first: Mapping[str, Any], at: datetime, now: datetime) -> None:
    if first.get("id") == p.subject:
        raise ForbiddenError(
            "the two-person rule needs a different ops user to confirm", rule="two_person"
        )
    if not within_window(at, now):
        raise InvalidStateError(
            "the 15-minute confirmation window has passed; ask again", rule="confirmation_expired"
        )


def _confirm_placement(
    ctx: Context, uow: UnitOfWork, p: Principal, hold: HoldRecord, now: datetime
) -> HoldRecord:
    in_force = parse_stamp(hold.starts_at) <= now
    items = _holding(uow, hold.scope) if in_force else []
    advisory_id = new_id("adv") if hold.customer_facing and hold.advisory else None
    events: list[Event] = [
        HoldConfirmed(hold_id=hold.id, confirmed_by=p.actor(), in_force=in_force,
                      item_count=len(items), advisory_id=advisory_id),
        *_chunks(HoldItemsHeld, hold.id, items),
    ]  # fmt: skip
    if advisory_id and hold.advisory:
        events.append(
            published_event(advisory_id, hold.id, hold.advisory, hold.scope, hold.starts_at)
        )
    events.append(
        audit_event(p.actor(), "hold.confirmed", hold.id, "", {"items": len(items),
                    "placed_by": hold.placed_by.get("id")})
    )  # fmt: skip
    uow.append(events)
    confirmed = uow.repo(HoldRepository).get(hold.id)
    assert confirmed is not None
    return confirmed


def release_hold(ctx: Context, p: Principal, hold_id: str, payload: object) -> ReleaseOutcome:
    """Release all held items (the hold ends) or only listed items or services.

    Raises InvalidStateError for a released or expired hold, ValidationError for a listed
    item this hold does not hold, ConflictError when a release already waits.
    """
    req = parse_release(payload)
    require_roles(p, Role.SUPERVISOR, Role.OPS)
    activate_due(ctx)
    now = ctx.clock.now()
    with ctx.store.write(ctx.site) as uow:
        hold = _get(uow, p, hold_id)
        if p.role is Role.SUPERVISOR and hold.scope.sites != (p.site,):
            raise ForbiddenError("a supervisor releases holds of their own site only",
                                 rule="own_site")  # fmt: skip
        status = hold.status(now)
        if status is HoldStatus.RELEASED:
            raise InvalidStateError(f"hold {hold_id} is already released", rule="already_released")
        if status is HoldStatus.EXPIRED:
            raise InvalidStateError(f"hold {hold_id} expired unconfirmed; nothing to release",
                                    rule="expired")  # fmt: skip
        _check_listed(uow, hold, req.items)
        if hold.scope.network_wide and status is not HoldStatus.PENDING and not req.emergency:
            if hold.release_request is not None and within_window(
                parse_stamp(hold.release_request["requested_at"]), now
            ):
                raise ConflictError(
                    f"a release of {hold_id} already waits for confirmation",
                    rule="release_pending",
                )
            request_id = new_id("rel")
            requested = HoldReleaseRequested(
                hold_id=hold_id, request_id=request_id, items=list(req.items),
                services=list(req.services), reason=req.reason, requested_by=p.actor(),
            )  # fmt: skip
            uow.append(
                [
                    requested,
                    audit_event(p.actor(), "hold.release_requested", hold_id, req.reason,
                                {"request_id": request_id, "items": len(req.items),
                                 "services": list(req.services)}),
                ]
            )  # fmt: skip
            fresh = uow.repo(HoldRepository).get(hold_id)
            assert fresh is not None
            return ReleaseOutcome(fresh, pending=True, request_id=request_id)
        outcome = _do_release(uow, p, hold, list(req.items), list(req.services), req.reason)
        if req.emergency and hold.scope.network_wide:
            uow.append([audit_event(p.actor(), "hold.two_person_rule_bypassed", hold_id,
                                    req.reason, {"release": True})])  # fmt: skip
        return outcome


def _check_listed(uow: UnitOfWork, hold: HoldRecord, items: Sequence[str]) -> None:
    held = {i for i, _, _ in uow.repo(HoldRepository).held_by(hold.id)}
    errors = [
        FieldError(f"items[{n}]", "not_held", item, f"hold {hold.id} does not hold {item}")
        for n, item in enumerate(items)
        if item not in held
    ]
    if errors:
        raise ValidationError(errors)


def _do_release(
    uow: UnitOfWork,
    p: Principal,
    hold: HoldRecord,
    items: list[str],
    svcs: list[str],
    reason: str,
    request_id: str | None = None,
    requested_by: Mapping[str, Any] | None = None,
) -> ReleaseOutcome:
    held = uow.repo(HoldRepository).held_by(hold.id)
    complete = not items and not svcs
    listed, services = set(items), set(svcs)
    chosen = [(i, frm) for i, frm, svc in held if complete or i in listed or svc in services]
    back = [[i, str(release_target(frm))] for i, frm in chosen]
    released = HoldReleased(
        hold_id=hold.id, item_count=len(back), complete=complete, reason=reason,
        released_by=dict(requested_by or p.actor()), request_id=request_id,
        confirmed_by=p.actor() if requested_by is not None else None,
    )  # fmt: skip
    events: list[Event] = [*_chunks(HoldItemsReleased, hold.id, back), released]
    if hold.advisory_id and is_open(uow, hold.advisory_id):
        if complete:
            events.append(closed_event(hold.advisory_id))
        elif back:
            what = f"services {', '.join(svcs)}" if svcs else f"{len(back)} listed items"
            events.append(
                updated_event(hold.advisory_id, f"Partial release: held items of {what} resume.")
            )
    details = {"items": len(back), "complete": complete, "services": svcs}
    if requested_by is not None:
        details["requested_by"] = requested_by.get("id")
    action = "hold.released" if complete else "hold.partially_released"
    events.append(audit_event(p.actor(), action, hold.id, reason, details))
    uow.append(events)
    fresh = uow.repo(HoldRepository).get(hold.id)
    assert fresh is not None
    return ReleaseOutcome(fresh, released=[i for i, _ in back])


def preview_hold(ctx: Context, p: Principal, scope: object) -> int:
    """How many items a hold on ``scope`` would hold if placed now (nothing is written).

    The same authorization and scope validation as :func:`place_hold`.
    """
    parsed = parse_scope(scope)
    _may_hold(p, parsed)
    with ctx.store.read() as uow:
        return len(uow.repo(HoldRepository).candidates(parsed))


def list_holds(ctx: Context, p: Principal, status: str | None = None) -> list[HoldRecord]:
    """Holds the caller may see (clerks and supervisors: those covering their site)."""
    require_roles(p, *STAFF_ROLES)
    if status is not None and status not in {s.value for s in HoldStatus}:
        raise ValidationError.single("status", "enum", status,
                                     f"status is one of {', '.join(HoldStatus)}")  # fmt: skip
    activate_due(ctx)
    now = ctx.clock.now()
    site = None if p.role in NETWORK_ROLES else p.site
    with ctx.store.read() as uow:
        rows = uow.repo(HoldRepository).all(site)
    return [h for h in rows if status is None or h.status(now) == status]


def get_hold(ctx: Context, p: Principal, hold_id: str) -> HoldRecord:
    require_roles(p, *STAFF_ROLES)
    with ctx.store.read() as uow:
        return _get(uow, p, hold_id)


def held_items(
    ctx: Context,
    p: Principal,
    site: str | None = None,
    hold_id: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[HeldItem]:
    """The held-items queue: per site for clerks and supervisors, any site for ops."""
    require_roles(p, *STAFF_ROLES)
    if not 1 <= limit <= 1000:
        raise ValidationError.single("limit", "range", limit, "limit is 1 to 1000")
    site = _queue_site(p, site)
    if hold_id is not None and not well_formed(HOLD_ID, hold_id):
        raise NotFoundError(f"no hold {hold_id}")
    if after is not None:
        after = str(S10.parse(after, "after"))
    activate_due(ctx)
    with ctx.store.read() as uow:
        return uow.repo(HoldRepository).queue(site, hold_id, after, limit)


def flagged_receptacles(
    ctx: Context, p: Principal, site: str | None = None
) -> list[FlaggedReceptacle]:
    """Open receptacles holding held items: per site for site staff, any site for ops."""
    require_roles(p, *STAFF_ROLES)
    site = _queue_site(p, site)
    with ctx.store.read() as uow:
        return uow.repo(HoldRepository).flagged(site)


def _queue_site(p: Principal, site: str | None) -> str | None:
    if site is not None and site not in {s.code for s in network().sites}:
        raise NotFoundError(f"no site {site}")
    if p.role not in NETWORK_ROLES:
        if site is not None and site != p.site:
            raise NotFoundError(f"no site {site}")
        return p.site
    return site
