"""Failover and failback of a lost site (``/api/v1/failovers``, ``/api/v1/failbacks``).

Operations leads ask and a second, different one confirms within 15 minutes. Bodies are
validated by the domain (every broken rule named: field, rule, value), so they are taken as
plain JSON objects here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel, Field

from postex.accounts.app.auth import Principal, Role
from postex.accounts.http import roles
from postex.sites.app.failover import (
    READERS,
    FailoverRecord,
    confirm,
    get_failover,
    list_failovers,
    request_failback,
    request_failover,
)
from postex.sites.app.ops import SiteOps
from postex.sites.domain.failover import RequestKind
from postex.sites.http.sites import site_ops

router = APIRouter(prefix="/api/v1", tags=["failovers"])
LEADS = roles(Role.OPS)
READ = roles(*READERS)
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON", **PROBLEM},
    401: {"description": "No or bad credentials", **PROBLEM},
    403: {"description": "Not an operations lead, or the same person confirming", **PROBLEM},
    404: {"description": "No such request", **PROBLEM},
    409: {"description": "Already failed over, survivor failed over, not failed over,"
                         " a request pending, expired or confirmed already", **PROBLEM},
    422: {"description": "A rule broken (unknown or same site, reason): field, rule, value",
          **PROBLEM},
}  # fmt: skip
FAILOVER_EXAMPLE = {"from_site": "GBLALA", "to_site": "GBLGWA", "reason": "ransomware"}
FAILBACK_EXAMPLE = {"site": "GBLALA", "reason": "Heathrow restored from the hub and verified"}
RequestId = Path(max_length=40, examples=["fov_3f9a0c…"])


class FailoverOut(BaseModel):
    id: str
    kind: str = Field(examples=["failover"], description="failover|failback")
    status: str = Field(examples=["active"], description="pending|expired|active|ended|done")
    from_site: str = Field(description="The lost site (a failback: the site failed over)")
    to_site: str | None = Field(description="The survivor")
    reason: str
    requested_by: dict[str, Any]
    requested_at: str
    logged_at: str = Field(description="The node whose log holds the request")
    confirmed_by: dict[str, Any] | None
    confirmed_at: str | None
    ended_at: str | None = Field(description="A failover a failback ended")
    items_moved: int
    receptacles_abandoned: int


def failover_out(r: FailoverRecord, ops: SiteOps) -> FailoverOut:
    return FailoverOut(
        id=r.id, kind=r.kind, status=str(r.status(ops.ctx.clock.now())), from_site=r.from_site,
        to_site=r.to_site, reason=r.reason, requested_by=r.requested_by,
        requested_at=r.requested_at, logged_at=r.origin_site, confirmed_by=r.confirmed_by,
        confirmed_at=r.confirmed_at, ended_at=r.ended_at, items_moved=r.item_count,
        receptacles_abandoned=r.receptacle_count,
    )  # fmt: skip


@router.post(
    "/failovers", status_code=201, response_model=FailoverOut, responses=ERRORS,
    summary="Ask to fail a lost site over to a survivor",
)  # fmt: skip
def ask_failover(
    payload: dict[str, Any] = Body(examples=[FAILOVER_EXAMPLE]),
    p: Principal = Depends(LEADS),
    ops: SiteOps = Depends(site_ops),
) -> FailoverOut:
    """Pending until a second operations lead confirms it within 15 minutes."""
    return failover_out(request_failover(ops, p, payload), ops)


@router.get(
    "/failovers", response_model=list[FailoverOut], responses=ERRORS,
    summary="Failover and failback requests, newest first",
)  # fmt: skip
def list_(p: Principal = Depends(READ), ops: SiteOps = Depends(site_ops)) -> list[FailoverOut]:
    return [failover_out(r, ops) for r in list_failovers(ops, p)]


@router.get(
    "/failovers/{request_id}", response_model=FailoverOut, responses=ERRORS,
    summary="One failover or failback request",
)  # fmt: skip
def one(
    request_id: str = RequestId, p: Principal = Depends(READ), ops: SiteOps = Depends(site_ops)
) -> FailoverOut:
    return failover_out(get_failover(ops, p, request_id), ops)


@router.post(
    "/failovers/{request_id}/confirm", response_model=FailoverOut, responses=ERRORS,
    summary="Confirm a failover (a second operations lead)",
)  # fmt: skip
def confirm_failover(
    request_id: str = RequestId, p: Principal = Depends(LEADS), ops: SiteOps = Depends(site_ops)
) -> FailoverOut:
    """The lost site's routes leave from the survivor; its items accepted but not
    despatched move there; its receptacles not despatched are abandoned."""
    return failover_out(confirm(ops, p, request_id, RequestKind.FAILOVER), ops)


@router.post(
    "/failbacks", status_code=201, response_model=FailoverOut, responses=ERRORS,
    summary="Ask to end a site's failover",
)  # fmt: skip
def ask_failback(
    payload: dict[str, Any] = Body(examples=[FAILBACK_EXAMPLE]),
    p: Principal = Depends(LEADS),
    ops: SiteOps = Depends(site_ops),
) -> FailoverOut:
    return failover_out(request_failback(ops, p, payload), ops)


@router.post(
    "/failbacks/{request_id}/confirm", response_model=FailoverOut, responses=ERRORS,
    summary="Confirm a failback (a second operations lead)",
)  # fmt: skip
def confirm_failback(
    request_id: str = RequestId, p: Principal = Depends(LEADS), ops: SiteOps = Depends(site_ops)
) -> FailoverOut:
    """The site's routes leave from it again; items already moved stay where they are."""
    return failover_out(confirm(ops, p, request_id, RequestKind.FAILBACK), ops)
