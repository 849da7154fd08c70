"""Export holds: place, list, confirm (two-person rule), release; the held-items queue.

Bodies are validated by the domain (every broken rule named in one problem), so they are
taken as plain JSON objects here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, Field

from postex.accounts.app.auth import STAFF_ROLES, Principal, Role
from postex.accounts.http import roles
from postex.eventlog.context import Context
from postex.http.deps import context
from postex.incidents.app.holds import (
    confirm_hold,
    flagged_receptacles,
    get_hold,
    held_items,
    list_holds,
    place_hold,
    release_hold,
)
from postex.incidents.app.policy import HeldItem, HoldRecord, ReleaseOutcome

router = APIRouter(prefix="/api/v1", tags=["holds"])
STAFF = roles(*STAFF_ROLES)
HOLDERS = roles(Role.SUPERVISOR, Role.OPS)  # the app layer's rules, applied before the input's
CONFIRMERS = roles(Role.OPS)
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON", **PROBLEM},
    401: {"description": "No or bad credentials", **PROBLEM},
    403: {"description": "Role or site not allowed", **PROBLEM},
    404: {"description": "No such hold (or not visible to the caller)", **PROBLEM},
    409: {"description": "Overlapping hold, wrong state, release pending", **PROBLEM},
    422: {"description": "A rule broken: field, rule and value named", **PROBLEM},
}
HOLD_EXAMPLE = {
    "scope": {"sites": [], "destinations": [], "services": [], "goods_only": True},
    "reason": "Back-office systems unavailable (cyber incident)",
    "advisory": "Please hold your export items with goods until further notice.",
    "starts_at": "now",
    "emergency": False,
}


class ScopeOut(BaseModel):
    sites: list[str] = Field(description="Empty: the whole network")
    destinations: list[str]
    services: list[str]
    goods_only: bool


class HoldOut(BaseModel):
    id: str
    status: str = Field(
        examples=["active"], description="pending|expired|scheduled|active|released"
    )
    scope: ScopeOut
    reason: str
    advisory: str | None
    advisory_id: str | None
    customer_facing: bool
    starts_at: str
    placed_at: str
    placed_by: dict[str, Any]
    emergency: bool
    confirmed_at: str | None
    confirmed_by: str | None
    released_at: str | None
    release_pending: dict[str, Any] | None
    held_items: int
    released_items: int


class ReleaseOut(BaseModel):
    hold: HoldOut
    released: list[str]
    pending_confirmation: bool
    request_id: str | None


class HeldItemOut(BaseModel):
    item_id: str
    hold_id: str
    site: str
    service: str
    destination: str
    has_goods: bool
    customs_form: str | None
    held_from: str
    held_at: str
    open_receptacles: list[str] = Field(description="Open receptacles holding it (flagged)")


class HeldItemsOut(BaseModel):
    items: list[HeldItemOut]
    next_after: str | None


def hold_out(h: HoldRecord, ctx: Context) -> HoldOut:
    return HoldOut(
        id=h.id, status=str(h.status(ctx.clock.now())), scope=ScopeOut(**h.scope.to_dict()),
        reason=h.reason, advisory=h.advisory, advisory_id=h.advisory_id,
        customer_facing=h.customer_facing, starts_at=h.starts_at, placed_at=h.placed_at,
        placed_by=h.placed_by, emergency=h.emergency, confirmed_at=h.confirmed_at,
        confirmed_by=h.confirmed_by, released_at=h.released_at,
        release_pending=h.release_request, held_items=h.held, released_items=h.released,
    )  # fmt: skip


def release_out(o: ReleaseOutcome, ctx: Context) -> ReleaseOut:
    return ReleaseOut(
        hold=hold_out(o.hold, ctx),
        released=o.released,
        pending_confirmation=o.pending,
        request_id=o.request_id,
    )


def held_out(i: HeldItem) -> HeldItemOut:
    return HeldItemOut(
        item_id=i.item_id, hold_id=i.hold_id, site=i.site, service=i.service,
        destination=i.destination, has_goods=i.has_goods, customs_form=i.customs_form,
        held_from=i.held_from, held_at=i.held_at, open_receptacles=list(i.receptacles),
    )  # fmt: skip


HoldId = Path(max_length=40, examples=["hold_3f9a0c…"])


@router.post(
    "/holds", status_code=201, response_model=HoldOut, summary="Place an export hold",
    responses=ERRORS,
)  # fmt: skip
def place(
    payload: dict[str, Any] = Body(examples=[HOLD_EXAMPLE]),
    p: Principal = Depends(HOLDERS),
    ctx: Context = Depends(context),
) -> HoldOut:
    """Supervisors hold their own site; ops any scope. A network-wide hold stays pending
    until a second ops user confirms it within 15 minutes (unless ``emergency``)."""
    return hold_out(place_hold(ctx, p, payload), ctx)


@router.get("/holds", response_model=list[HoldOut], summary="List holds", responses=ERRORS)
def list_(
    status: str | None = Query(None, max_length=20, examples=["active"]),
    p: Principal = Depends(STAFF),
    ctx: Context = Depends(context),
) -> list[HoldOut]:
    return [hold_out(h, ctx) for h in list_holds(ctx, p, status)]


@router.get(
    "/holds/held-items", response_model=HeldItemsOut, summary="The held-items queue",
    responses=ERRORS,
)  # fmt: skip
def queue(
    site: str | None = Query(None, max_length=16, examples=["GBLALA"]),
    hold: str | None = Query(None, max_length=40),
    after: str | None = Query(None, max_length=13, description="The last item id of a page"),
    limit: int = Query(100, ge=1, le=1000),
    p: Principal = Depends(STAFF),
    ctx: Context = Depends(context),
) -> HeldItemsOut:
    """Held items by id; clerks and supervisors see their own site only."""
    rows = held_items(ctx, p, site, hold, after, limit)
    return HeldItemsOut(
        items=[held_out(i) for i in rows],
        next_after=rows[-1].item_id if len(rows) == limit else None,
    )


class FlaggedOut(BaseModel):
    receptacle_id: str
    site: str
    held_items: int


@router.get(
    "/holds/flagged-receptacles", response_model=list[FlaggedOut], responses=ERRORS,
    summary="Open receptacles that contain held items",
)  # fmt: skip
def flagged(
    site: str | None = Query(None, max_length=16, examples=["GBLALA"]),
    p: Principal = Depends(STAFF),
    ctx: Context = Depends(context),
) -> list[FlaggedOut]:
    return [FlaggedOut(**vars(f)) for f in flagged_receptacles(ctx, p, site)]


@router.get("/holds/{hold_id}", response_model=HoldOut, summary="One hold", responses=ERRORS)
def one(
    hold_id: str = HoldId, p: Principal = Depends(STAFF), ctx: Context = Depends(context)
) -> HoldOut:
    return hold_out(get_hold(ctx, p, hold_id), ctx)


@router.post(
    "/holds/{hold_id}/confirm", response_model=ReleaseOut, responses=ERRORS,
    summary="Confirm a pending network-wide hold or its pending release (a second ops user)",
)  # fmt: skip
def confirm(
    hold_id: str = HoldId, p: Principal = Depends(CONFIRMERS), ctx: Context = Depends(context)
) -> ReleaseOut:
    return release_out(confirm_hold(ctx, p, hold_id), ctx)


@router.post(
    "/holds/{hold_id}/release", response_model=ReleaseOut, responses=ERRORS,
    summary="Release all held items (the hold ends), or only listed items or services",
)  # fmt: skip
def release(
    hold_id: str = HoldId,
    payload: dict[str, Any] | None = Body(None, examples=[{"items": [], "reason": "resumed"}]),
    p: Principal = Depends(HOLDERS),
    ctx: Context = Depends(context),
) -> ReleaseOut:
    return release_out(release_hold(ctx, p, hold_id, payload or {}), ctx)
