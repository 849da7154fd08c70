"""Public tracking: anyone with an S10 id sees status and timeline, never personal data.

Responses carry an ``ETag`` (a conditional GET with ``If-None-Match`` answers 304) and
``Cache-Control``; each client address is rate limited (``public_rate`` per second,
bursts of ``public_burst``).
"""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from postex.http.deps import container
from postex.http.limits import public_rate_limit
from postex.tracking.app.public import PublicTracking, public_tracking

router = APIRouter(prefix="/api/v1", tags=["tracking"])
CACHE_CONTROL = "public, max-age=60"


class TrackingEventOut(BaseModel):
    code: str = Field(examples=["EMA"])
    description: str = Field(examples=["Posted / collected"])
    place: str | None = Field(examples=["Heathrow Worldwide Distribution Centre"])
    time: str = Field(examples=["2026-11-23T09:14:00+00:00"])


class TrackingOut(BaseModel):
    id: str = Field(examples=["LA100000003GB"])
    status: str = Field(examples=["in_transit"])
    service: str
    destination_country: str = Field(examples=["US"])
    destination_name: str = Field(examples=["United States"])
    events: list[TrackingEventOut]


def tracking_dict(t: PublicTracking) -> dict[str, object]:
    return {
        "id": t.id,
        "status": t.status,
        "service": t.service,
        "destination_country": t.destination_country,
        "destination_name": t.destination_name,
        "events": [
            {"code": e.code, "description": e.description, "place": e.place, "time": e.time}
            for e in t.events
        ],
    }


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags


def cached(request: Request, body: bytes, media_type: str) -> Response:
    """``body`` with ETag and Cache-Control, or 304 if the client already has it."""
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get(
    "/tracking/{item_id}",
    response_model=TrackingOut,
    summary="Public tracking of one item",
    responses={
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        404: {"description": "No such item", "content": {"application/problem+json": {}}},
        422: {"description": "Malformed S10 id", "content": {"application/problem+json": {}}},
        429: {"description": "Rate limited", "content": {"application/problem+json": {}}},
    },
    dependencies=[Depends(public_rate_limit)],
)
def track(
    request: Request,
    item_id: str = Path(max_length=40, examples=["LA100000003GB"]),
) -> Response:
    t = public_tracking(container(request).ctx, item_id)
    body = json.dumps(tracking_dict(t), separators=(",", ":")).encode()
    return cached(request, body, "application/json")
