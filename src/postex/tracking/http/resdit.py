"""Carrier receipts from partners: ``POST /api/v1/partner/resdit`` (RESDIT XML)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from postex.accounts.app.auth import Principal
from postex.accounts.http import CARRIERS
from postex.kernel.errors import PayloadTooLargeError
from postex.sites.app.messages import record_resdit
from postex.sites.app.ops import SiteOps
from postex.sites.http.sites import PROBLEMS, site_ops

router = APIRouter(prefix="/api/v1/partner", tags=["partner"])
MAX_RESDIT_BYTES = 2 * 1024 * 1024


class ResditOut(BaseModel):
    recorded: int
    repeated: int


@router.post(
    "/resdit",
    response_model=ResditOut,
    responses=PROBLEMS,
    summary="Carrier receipts per receptacle: 74 taken into custody, 21 delivered",
    openapi_extra={"requestBody": {"content": {"application/xml": {}}, "required": True}},
)
async def post_resdit(
    request: Request, p: Principal = Depends(CARRIERS), ops: SiteOps = Depends(site_ops)
) -> ResditOut:
    data = await request.body()
    if len(data) > MAX_RESDIT_BYTES:
        raise PayloadTooLargeError(f"a RESDIT document is at most {MAX_RESDIT_BYTES} bytes")
    outcome = await run_in_threadpool(record_resdit, ops, p, data)
    return ResditOut(recorded=outcome.recorded, repeated=outcome.repeated)
