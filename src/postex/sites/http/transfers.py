"""Transfers between sites (``/api/v1/sites/{site}/transfers…``): send accepted items to
the site their route leaves from, and scan them in there. Clerks and above, at their site.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from postex.accounts.app.auth import Principal
from postex.accounts.http import SITE_STAFF
from postex.sites.app.ops import SiteOps
from postex.sites.app.transfers import Transferred, receive, transfer_out
from postex.sites.http.idempotency import IDEMPOTENCY_KEY, once
from postex.sites.http.sites import PROBLEMS, SiteCode, Strict, site_ops

router = APIRouter(prefix="/api/v1/sites/{site}", tags=["sites"])
ItemId = Annotated[str, Field(max_length=40, examples=["LA100000003GB"])]


class TransferIn(Strict):
    to_site: str = Field(max_length=16, examples=["GBLALA"], description="the receiving site")
    item_ids: list[ItemId] = Field(min_length=1, max_length=5000)


class ReceivedIn(Strict):
    item_ids: list[ItemId] = Field(min_length=1, max_length=5000)


class TransferredOut(BaseModel):
    item_id: str
    from_site: str
    to_site: str
    event: str = Field(description="the tracking event recorded: EMK sent, EMB received")


class TransfersOut(BaseModel):
    transfers: list[TransferredOut]
    count: int


def _out(done: list[Transferred]) -> TransfersOut:
    rows = [TransferredOut(item_id=t.item_id, from_site=t.from_site, to_site=t.to_site,
                           event=t.event) for t in done]  # fmt: skip
    return TransfersOut(transfers=rows, count=len(rows))


@router.post(
    "/transfers",
    status_code=201,
    response_model=TransfersOut,
    responses=PROBLEMS,
    summary="Send accepted items to the site their route leaves from (all or none)",
)
def post_transfers(
    request: Request,
    site: SiteCode,
    body: TransferIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Any:  # TransfersOut, or its first answer replayed
    return once(request, p, idempotency_key, body,
                lambda: _out(transfer_out(ops, p, site, body.to_site, body.item_ids)))  # fmt: skip


@router.post(
    "/transfers/received",
    status_code=201,
    response_model=TransfersOut,
    responses=PROBLEMS,
    summary="Scan in items transferred to this site (all or none)",
)
def post_transfers_received(
    request: Request,
    site: SiteCode,
    body: ReceivedIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Any:
    return once(request, p, idempotency_key, body,
                lambda: _out(receive(ops, p, site, body.item_ids)))  # fmt: skip
