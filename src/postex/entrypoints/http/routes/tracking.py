"""Public tracking: anyone with an S10 id sees status and timeline, never personal data."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from postex.app.context import Context
from postex.app.tracking import public_tracking
from postex.entrypoints.http.deps import context

router = APIRouter(prefix="/api/v1", tags=["tracking"])


class TrackingEventOut(BaseModel):
    code: str = Field(examples=["EMA"])
    description: str = Field(examples=["Posted / collected"])
    place: str | None = Field(examples=["GBLALA"])
    time: str = Field(examples=["2026-11-23T09:14:00+00:00"])


class TrackingOut(BaseModel):
    id: str = Field(examples=["LA100000003GB"])
    status: str = Field(examples=["in_transit"])
    service: str
    destination_country: str = Field(examples=["US"])
    destination_name: str = Field(examples=["United States"])
    events: list[TrackingEventOut]


@router.get(
    "/tracking/{item_id}",
    response_model=TrackingOut,
    summary="Public tracking of one item",
    responses={
        404: {"description": "No such item", "content": {"application/problem+json": {}}},
        422: {"description": "Malformed S10 id", "content": {"application/problem+json": {}}},
    },
)
def track(
    item_id: str = Path(max_length=40, examples=["LA100000003GB"]),
    ctx: Context = Depends(context),
) -> TrackingOut:
    t = public_tracking(ctx, item_id)
    return TrackingOut(
        id=t.id,
        status=t.status,
        service=t.service,
        destination_country=t.destination_country,
        destination_name=t.destination_name,
        events=[TrackingEventOut(**vars(e)) for e in t.events],
    )
