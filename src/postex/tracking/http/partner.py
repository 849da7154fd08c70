"""Partner API: tracking events in (JSON or EMSEVT flat file), the quarantine views
(ops: every partner's; a partner: its own).

``POST /api/v1/partner/events`` takes ``{"events": [...]}`` as JSON, or the EMSEVT CSV
file as the body (``Content-Type: text/csv``) or as the ``file`` field of a multipart
upload. ``?partial=true`` stores the good rows of a batch and reports the others.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from postex.accounts.app.auth import Principal, Role
from postex.accounts.http import roles
from postex.bootstrap import Container
from postex.http.deps import container
from postex.kernel.errors import ValidationError
from postex.kernel.validation import check_json_depth
from postex.tracking.app.partner_events import (
    MAX_BATCH,
    Row,
    ingest_partner_events,
    own_quarantine,
    parse_file_batch,
    parse_json_batch,
    quarantine,
)

router = APIRouter(prefix="/api/v1", tags=["partners"])
PARTNER = roles(Role.PARTNER)  # refused before the body or query is read
OPS_VIEW = roles(Role.OPS, Role.ADMIN, Role.AUDITOR)
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


# The body is read by hand (JSON, CSV or a multipart upload); this documents it.
EVENTS_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["events"],
                "properties": {"events": {"type": "array", "items": {"type": "object"}}},
            }
        },
        "text/csv": {"schema": {"type": "string", "description": "EMSEVT flat file"}},
    },
}


async def _rows(request: Request, c: Container) -> list[Row]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        try:
            form = await request.form()
        except HTTPException as exc:  # Starlette's 400 for a body that is not multipart
            raise ValidationError.single("body", "multipart", None, str(exc.detail)) from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationError.single("file", "required", None, "upload the file as 'file'")
        data = await upload.read()
        return parse_file_batch(c.partner_file_reader, data)
    data = await request.body()
    if kind in ("text/csv", "application/csv", "text/plain", "application/octet-stream"):
        return parse_file_batch(c.partner_file_reader, data)
    if kind not in ("application/json", ""):
        raise ValidationError.single(
            "content-type", "media_type", kind, "send application/json or text/csv"
        )
    try:
        payload = json.loads(data)
    except RecursionError:  # nested deeper than the decoder can follow
        raise ValidationError.single("body", "json", None, "JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError.single("body", "json", str(exc)[:80], "not valid JSON") from None
    check_json_depth(data)
    return parse_json_batch(payload)


@router.post(
    "/partner/events",
    summary="Send tracking events (EMSEVT-style JSON or CSV)",
    description=f"At most {MAX_BATCH} events per batch. The same event twice is stored once.",
    responses={401: PROBLEM, 403: PROBLEM, 413: PROBLEM, 422: PROBLEM},
    openapi_extra={"requestBody": EVENTS_BODY},
)
async def send_events(
    request: Request,
    partial: bool = Query(False, description="Store the good rows and report the bad ones."),
    p: Principal = Depends(PARTNER),
    c: Container = Depends(container),
) -> dict[str, Any]:
    rows = await _rows(request, c)
    result = await run_in_threadpool(ingest_partner_events, c.ctx, p, rows, partial)
    return result.to_dict()


@router.get(
    "/ops/quarantine",
    summary="Partner events waiting for their item (ops)",
    responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM},
)
def list_quarantine(
    status: str | None = Query("waiting", description="waiting, attached or refused"),
    limit: int = Query(500, ge=1, le=5000),
    p: Principal = Depends(OPS_VIEW),
    c: Container = Depends(container),
) -> dict[str, Any]:
    rows = quarantine(c.ctx, p, status, limit)
    return {"events": [vars(r) for r in rows]}


@router.get(
    "/partner/quarantine",
    summary="Your events waiting for their item (partner)",
    description="Only events this partner sent. An event waits until its item is pre-advised;"
    " it is then attached to the timeline, or refused if the item is not routed to you.",
    responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM},
)
def list_own_quarantine(
    status: str | None = Query("waiting", description="waiting, attached or refused"),
    limit: int = Query(500, ge=1, le=5000),
    p: Principal = Depends(PARTNER),
    c: Container = Depends(container),
) -> dict[str, Any]:
    rows = own_quarantine(c.ctx, p, status, limit)
    return {"events": [vars(r) for r in rows]}
