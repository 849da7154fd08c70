"""Public advisories: what customers should do while exports are held."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, Field

from postex.accounts.app.auth import Principal, Role
from postex.accounts.http import roles
from postex.eventlog.context import Context
from postex.http.deps import context
from postex.incidents.app.advisories import (
    AdvisoryRecord,
    add_update,
    list_advisories,
    resolve_advisory,
)
from postex.incidents.http.holds import ERRORS

router = APIRouter(prefix="/api/v1", tags=["advisories"])


class UpdateOut(BaseModel):
    at: str
    text: str


class AdvisoryOut(BaseModel):
    id: str
    status: str = Field(examples=["active"], description="scheduled|active|resolved")
    text: str
    services: list[str] = Field(description="Empty: every service")
    destinations: list[str] = Field(description="Empty: every destination")
    sites: list[str] = Field(description="Empty: every site")
    goods_only: bool
    starts_at: str
    published_at: str
    resolved_at: str | None
    updates: list[UpdateOut]


def advisory_out(a: AdvisoryRecord, ctx: Context) -> AdvisoryOut:
    return AdvisoryOut(
        id=a.id, status=a.status(ctx.clock.now()), text=a.text,
        services=list(a.scope.services), destinations=list(a.scope.destinations),
        sites=list(a.scope.sites), goods_only=a.scope.goods_only, starts_at=a.starts_at,
        published_at=a.published_at, resolved_at=a.closed_at,
        updates=[UpdateOut(at=u.at, text=u.text) for u in a.updates],
    )  # fmt: skip


@router.get(
    "/advisories", response_model=list[AdvisoryOut], summary="Active and recent advisories",
    responses={422: ERRORS[422]},
)  # fmt: skip
def advisories(
    service: str | None = Query(None, max_length=32, examples=["tracked"]),
    destination: str | None = Query(None, max_length=2, examples=["US"]),
    ctx: Context = Depends(context),
) -> list[AdvisoryOut]:
    """Public: active, scheduled and recently resolved advisories, newest first."""
    return [advisory_out(a, ctx) for a in list_advisories(ctx, service, destination)]


@router.post(
    "/advisories/{advisory_id}/updates", response_model=AdvisoryOut, responses=ERRORS,
    summary="Add an update to an open advisory (ops)",
)  # fmt: skip
def update(
    advisory_id: str = Path(max_length=40),
    payload: dict[str, Any] = Body(examples=[{"text": "Letters without customs data resume."}]),
    p: Principal = Depends(roles(Role.OPS)),
    ctx: Context = Depends(context),
) -> AdvisoryOut:
    return advisory_out(add_update(ctx, p, advisory_id, payload.get("text")), ctx)


@router.post(
    "/advisories/{advisory_id}/resolve", response_model=AdvisoryOut, responses=ERRORS,
    summary="Resolve an open advisory with a last word to customers (ops)",
)  # fmt: skip
def resolve(
    advisory_id: str = Path(max_length=40),
    payload: dict[str, Any] = Body(examples=[{"text": "Exports to the US have resumed."}]),
    p: Principal = Depends(roles(Role.OPS)),
    ctx: Context = Depends(context),
) -> AdvisoryOut:
    """The status page shows it as resolved; a hold still in force stays in force."""
    return advisory_out(resolve_advisory(ctx, p, advisory_id, payload.get("text")), ctx)
