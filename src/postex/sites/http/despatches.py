"""Despatch routes for supervisors: compose, close, hand over, bills and messages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from postex.accounts.app.auth import Principal
from postex.accounts.http import SITE_STAFF
from postex.http.paging import CURSOR, LIMIT, decode_cursor, page
from postex.sites.app import despatches as dsp
from postex.sites.app.ops import DespatchRecord, SiteOps
from postex.sites.http.idempotency import IDEMPOTENCY_KEY, once
from postex.sites.http.sites import (
    PDF_OK,
    PROBLEMS,
    XML_OK,
    ReasonIn,
    ReceptacleOut,
    Rid,
    SiteCode,
    Strict,
    receptacle_out,
    site_ops,
)

router = APIRouter(prefix="/api/v1/sites/{site}/despatches", tags=["despatches"])
Did = Annotated[str, Path(min_length=1, max_length=20, examples=["GBLALAUSJFKAAUN60001"])]
MEDIA = {"predes": "application/xml", "itmatt": "application/xml", "cardit": "application/xml"}


class ComposeIn(Strict):
    receptacle_ids: list[Annotated[str, Field(max_length=40)]] = Field(
        min_length=1, max_length=999, description="receptacle ids or their S9 ids"
    )


class TransportIn(Strict):
    carrier: str = Field(max_length=3, examples=["BA"])
    flight: str = Field(max_length=8, examples=["BA0117"])
    flight_date: str = Field(max_length=10, examples=["2026-11-24"])
    departure_time: str | None = Field(
        default=None, max_length=8, examples=["14:35"],
        description="scheduled departure, HH:MM in the site's local time (CARDIT's departure;"
        " without it CARDIT gives the flight's day at 00:00 UTC)",
    )  # fmt: skip


class DespatchOut(BaseModel):
    id: str
    site: str
    destination: str
    category: str
    subclass: str
    year_digit: int
    serial: int
    state: str
    form: str
    composed_at: str
    closed_at: str | None
    carrier: str | None
    flight: str | None
    flight_date: str | None
    departs_at: str | None = Field(examples=["2026-11-24T14:35:00+00:00"])
    handed_over_at: str | None
    receptacle_count: int
    item_count: int
    gross_weight_g: int
    custody_at: str | None
    delivered_at: str | None
    links: dict[str, str]


def despatch_out(d: DespatchRecord) -> DespatchOut:
    base = f"/api/v1/sites/{d.site}/despatches/{d.id}"
    links = {"self": base, "receptacles": f"{base}/receptacles", "messages": f"{base}/messages"}
    if d.state not in ("open", "cancelled"):
        links["bill"] = f"{base}/bill.pdf"
    return DespatchOut(**vars(d), links=links)


@router.post(
    "",
    status_code=201,
    response_model=DespatchOut,
    responses=PROBLEMS,
    summary="Compose closed receptacles of one series into a despatch",
)
def post_despatch(
    request: Request,
    site: SiteCode,
    body: ComposeIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Any:  # DespatchOut, or its first answer replayed as JSON
    def run() -> DespatchOut:
        return despatch_out(dsp.compose(ops, p, site, body.receptacle_ids))

    return once(request, p, idempotency_key, body, run)


class DespatchPage(BaseModel):
    despatches: list[DespatchOut]
    next_cursor: str | None
    links: dict[str, str]


@router.get(
    "",
    response_model=DespatchPage,
    responses=PROBLEMS,
    summary="The site's despatches, oldest composed first",
    description="Filter by state; page with the opaque next_cursor (or follow links.next).",
)
def get_despatches(
    site: SiteCode,
    state: str | None = Query(default=None, max_length=16, examples=["closed"]),
    cursor: str | None = CURSOR,
    limit: int = LIMIT,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
) -> dict[str, Any]:
    rows = dsp.list_despatches(ops, p, site, state, decode_cursor(cursor), limit + 1)
    return page(
        "despatches", rows, limit, f"/api/v1/sites/{site}/despatches",
        {"state": state, "cursor": cursor}, lambda d: (d.composed_at, d.id), despatch_out,
    )  # fmt: skip


@router.get("/{did}", response_model=DespatchOut, responses=PROBLEMS)
def get_despatch(
    site: SiteCode, did: Did, p: Principal = Depends(SITE_STAFF), ops: SiteOps = Depends(site_ops)
) -> DespatchOut:
    return despatch_out(dsp.get_despatch(ops, p, site, did))


@router.get("/{did}/receptacles", response_model=list[ReceptacleOut], responses=PROBLEMS)
def get_despatch_receptacles(
    site: SiteCode, did: Did, p: Principal = Depends(SITE_STAFF), ops: SiteOps = Depends(site_ops)
) -> list[ReceptacleOut]:
    return [receptacle_out(r) for r in dsp.despatch_receptacles(ops, p, site, did)]


class TakenOutOut(BaseModel):
    despatch: DespatchOut
    receptacle: ReceptacleOut


@router.post(
    "/{did}/receptacles/{rid}/remove",
    response_model=TakenOutOut,
    responses=PROBLEMS,
    summary="Take a receptacle out of a composed despatch (supervisors), with a reason",
    description="Only before the despatch is closed. The receptacle is closed and free again,"
    " numbered into the next despatch of its series (a new S9 id and CN35); a despatch left"
    " without receptacles is cancelled.",
)
def post_remove_receptacle(
    site: SiteCode,
    did: Did,
    rid: Rid,
    body: ReasonIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
) -> TakenOutOut:
    done = dsp.take_out(ops, p, site, did, rid, body.reason)
    return TakenOutOut(
        despatch=despatch_out(done.despatch), receptacle=receptacle_out(done.receptacle)
    )


@router.post(
    "/{did}/close",
    response_model=DespatchOut,
    responses=PROBLEMS,
    summary="Close for a planned flight: bill, PREDES, ITMATT",
)
def post_close(
    site: SiteCode,
    did: Did,
    body: TransportIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
) -> DespatchOut:
    return despatch_out(
        dsp.close_despatch(
            ops, p, site, did, body.carrier, body.flight, body.flight_date, body.departure_time
        )
    )


@router.post(
    "/{did}/handover",
    response_model=DespatchOut,
    responses=PROBLEMS,
    summary="Hand over to the carrier: CARDIT, EMC for every item",
)
def post_handover(
    site: SiteCode,
    did: Did,
    body: TransportIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
) -> DespatchOut:
    return despatch_out(
        dsp.hand_over(
            ops, p, site, did, body.carrier, body.flight, body.flight_date, body.departure_time
        )
    )


@router.get(
    "/{did}/bill.pdf",
    response_class=Response,
    responses={**PDF_OK, **PROBLEMS},
    summary="The CN38 (air parcels) or CN31 (letter post) bill",
)
def get_bill(
    site: SiteCode, did: Did, p: Principal = Depends(SITE_STAFF), ops: SiteOps = Depends(site_ops)
) -> Response:
    return Response(dsp.despatch_bill(ops, p, site, did), media_type="application/pdf")


class MessageOut(BaseModel):
    kind: str
    part: str
    sealed: bool
    created_at: str
    href: str


@router.get("/{did}/messages", response_model=list[MessageOut], responses=PROBLEMS)
def get_messages(
    site: SiteCode, did: Did, p: Principal = Depends(SITE_STAFF), ops: SiteOps = Depends(site_ops)
) -> list[MessageOut]:
    base = f"/api/v1/sites/{site}/despatches/{did}/messages"
    return [
        MessageOut(
            kind=m.kind,
            part=m.part,
            sealed=m.sealed,
            created_at=m.created_at,
            href=f"{base}/{m.kind}?part={m.part}",
        )
        for m in dsp.list_messages(ops, p, site, did)
    ]


@router.get(
    "/{did}/messages/{kind}",
    response_class=Response,
    responses={**XML_OK, **PROBLEMS},
    summary="Download a PREDES, ITMATT or CARDIT message",
)
def get_message(
    site: SiteCode,
    did: Did,
    kind: Annotated[str, Path(pattern="^(predes|itmatt|cardit)$")],
    part: str | None = Query(default=None, max_length=4),
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
) -> Response:
    return Response(dsp.message(ops, p, site, did, kind, part), media_type=MEDIA[kind])
