"""Site routes for staff: acceptance and receptacles (``/api/v1/sites/{site}/…``).

Another site of a clerk or supervisor is reported as missing (404); auditors only read.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from postex.accounts.app.auth import Principal
from postex.accounts.http import SITE_STAFF
from postex.bootstrap import Container
from postex.http.paging import CURSOR, LIMIT, decode_cursor, page
from postex.kernel.errors import ValidationError
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from postex.sites.app.ops import ReceptacleRecord, SiteOps
from postex.sites.app.returns import return_to_sender
from postex.sites.http.idempotency import IDEMPOTENCY_KEY, once

router = APIRouter(prefix="/api/v1/sites/{site}", tags=["sites"])
SiteCode = Annotated[str, Path(min_length=1, max_length=16, examples=["GBLALA"])]
Rid = Annotated[str, Path(min_length=1, max_length=40, examples=["rcp_3f9a0c…"])]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"content": {"application/problem+json": {}}} for s in (401, 403, 404, 409, 422)
}
BINARY = {"schema": {"type": "string", "format": "binary"}}
PDF_OK: dict[int | str, dict[str, Any]] = {
    200: {"description": "PDF document", "content": {"application/pdf": BINARY}}
}
XML_OK: dict[int | str, dict[str, Any]] = {
    200: {"description": "EDI message (XML)", "content": {"application/xml": BINARY}}
}


def site_ops(request: Request) -> SiteOps:
    return cast(Container, request.app.state.container).site_ops


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanIn(Strict):
    item_id: str = Field(max_length=40, examples=["LA100000003GB"])
    weight_g: int = Field(description="measured weight in grams", examples=[850])


class AcceptanceIn(Strict):
    """One scan (``item_id`` + ``weight_g``) or a batch (``scans``), never both."""

    item_id: str | None = Field(default=None, max_length=40)
    weight_g: int | None = None
    scans: list[ScanIn] | None = Field(default=None, max_length=5000)


class AcceptedOut(BaseModel):
    item_id: str
    site: str
    weight_g: int
    events: list[str]


class AcceptancesOut(BaseModel):
    accepted: list[AcceptedOut]
    count: int


@router.post(
    "/acceptances",
    status_code=201,
    response_model=AcceptancesOut,
    summary="Accept items at the site (one scan or a batch)",
    responses=PROBLEMS,
)
def post_acceptances(
    request: Request,
    site: SiteCode,
    body: AcceptanceIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Any:  # AcceptancesOut, or its first answer replayed as JSON
    return once(request, p, idempotency_key, body, lambda: _accept(site, body, p, ops))


def _accept(site: str, body: AcceptanceIn, p: Principal, ops: SiteOps) -> AcceptancesOut:
    if body.scans is not None:
        if body.item_id is not None or body.weight_g is not None:
            raise ValidationError.single(
                "scans", "exclusive", None, "send either one scan or a list of scans"
            )
        scans = [Scan(s.item_id, s.weight_g) for s in body.scans]
    elif body.item_id is not None and body.weight_g is not None:
        scans = [Scan(body.item_id, body.weight_g)]
    else:
        raise ValidationError.single(
            "item_id", "required", None, "send item_id and weight_g, or scans"
        )
    done = accept(ops, p, site, scans)
    out = [
        AcceptedOut(item_id=a.item_id, site=a.site, weight_g=a.weight_g, events=list(a.events))
        for a in done
    ]
    return AcceptancesOut(accepted=out, count=len(out))


class ReceptacleIn(Strict):
    destination: str = Field(max_length=6, examples=["USJFKA"])
    category: str = Field(max_length=1, examples=["A"])
    subclass: str = Field(max_length=2, examples=["UN"])


class ReceptacleOut(BaseModel):
    id: str
    site: str
    destination: str
    category: str
    subclass: str
    state: str
    opened_at: str
    closed_at: str | None
    item_count: int
    content_g: int
    gross_weight_g: int | None
    s9: str | None
    despatch_id: str | None
    carrier_status: str | None
    links: dict[str, str]


def receptacle_out(r: ReceptacleRecord) -> ReceptacleOut:
    base = f"/api/v1/sites/{r.site}/receptacles/{r.id}"
    links = {"self": base, "items": f"{base}/items"}
    if r.s9:
        links["cn35"] = f"{base}/cn35.pdf"
    return ReceptacleOut(**vars(r), links=links)


@router.post(
    "/receptacles",
    status_code=201,
    response_model=ReceptacleOut,
    summary="Open a receptacle for a series",
    responses=PROBLEMS,
)
def post_receptacle(
    request: Request,
    site: SiteCode,
    body: ReceptacleIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Any:  # ReceptacleOut, or its first answer replayed as JSON
    def run() -> ReceptacleOut:
        return receptacle_out(
            rcp.open_receptacle(ops, p, site, body.destination, body.category, body.subclass)
        )

    return once(request, p, idempotency_key, body, run)


class ReceptaclePage(BaseModel):
    receptacles: list[ReceptacleOut]
    next_cursor: str | None
    links: dict[str, str]


@router.get(
    "/receptacles",
    response_model=ReceptaclePage,
    responses=PROBLEMS,
    summary="The site's receptacles, oldest opened first",
    description="Filter by state; page with the opaque next_cursor (or follow links.next).",
)
def get_receptacles(
    site: SiteCode,
    state: str | None = Query(default=None, max_length=16, examples=["open"]),
    cursor: str | None = CURSOR,
    limit: int = LIMIT,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
) -> dict[str, Any]:
    rows = rcp.list_receptacles(ops, p, site, state, decode_cursor(cursor), limit + 1)
    return page(
        "receptacles", rows, limit, f"/api/v1/sites/{site}/receptacles",
        {"state": state, "cursor": cursor}, lambda r: (r.opened_at, r.id), receptacle_out,
    )  # fmt: skip


@router.get("/receptacles/{rid}", response_model=ReceptacleOut, responses=PROBLEMS)
def get_receptacle(
    site: SiteCode, rid: Rid, p: Principal = Depends(SITE_STAFF), ops: SiteOps = Depends(site_ops)
) -> ReceptacleOut:
    return receptacle_out(rcp.get_receptacle(ops, p, site, rid))


class ItemsIn(Strict):
    item_ids: list[Annotated[str, Field(max_length=40)]] = Field(min_length=1, max_length=5000)


@router.get("/receptacles/{rid}/items", responses=PROBLEMS)
def get_receptacle_items(
    site: SiteCode, rid: Rid, p: Principal = Depends(SITE_STAFF), ops: SiteOps = Depends(site_ops)
) -> dict[str, list[str]]:
    return {"item_ids": rcp.receptacle_item_ids(ops, p, site, rid)}


@router.post(
    "/receptacles/{rid}/items",
    response_model=ReceptacleOut,
    responses=PROBLEMS,
    summary="Put accepted items into an open receptacle (all or none)",
)
def post_receptacle_items(
    site: SiteCode,
    rid: Rid,
    body: ItemsIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
) -> ReceptacleOut:
    return receptacle_out(rcp.add_items(ops, p, site, rid, body.item_ids))


@router.delete(
    "/receptacles/{rid}/items/{item_id}",
    response_model=ReceptacleOut,
    responses=PROBLEMS,
    summary="Take an item out of an open receptacle",
)
def delete_receptacle_item(
    site: SiteCode,
    rid: Rid,
    item_id: Annotated[str, Path(max_length=40)],
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
) -> ReceptacleOut:
    return receptacle_out(rcp.remove_item(ops, p, site, rid, item_id))


class CloseIn(Strict):
    gross_weight_g: int = Field(description="measured gross weight in grams", examples=[12345])
    last: bool | None = Field(
        default=None,
        description="true: the highest (last) receptacle of its despatch; false: not the last;"
        " absent: not known (S9 indicator 9)",
    )


@router.post(
    "/receptacles/{rid}/close",
    response_model=ReceptacleOut,
    responses=PROBLEMS,
    summary="Close with the measured weight: S9 id and CN35 label",
)
def post_close_receptacle(
    site: SiteCode,
    rid: Rid,
    body: CloseIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
) -> ReceptacleOut:
    closed = rcp.close_receptacle(ops, p, site, rid, body.gross_weight_g, body.last)
    return receptacle_out(closed.record)


class ReasonIn(Strict):
    reason: str | None = Field(
        default=None,
        max_length=2000,
        description="why, in words (3 to 500 characters); kept in the log and the audit trail",
        examples=["item LA100000003GB held by hold_3f9a…: taking it out"],
    )


@router.post(
    "/receptacles/{rid}/reopen",
    response_model=ReceptacleOut,
    responses=PROBLEMS,
    summary="Reopen a closed receptacle (supervisors), with a reason",
    description="For a closed receptacle not in a despatch: it is open again, its S9 id is"
    " void, and items (a held one) can be taken out. Closing it again gives a new S9 id.",
)
def post_reopen_receptacle(
    site: SiteCode,
    rid: Rid,
    body: ReasonIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
) -> ReceptacleOut:
    return receptacle_out(rcp.reopen_receptacle(ops, p, site, rid, body.reason))


class ReturnedOut(BaseModel):
    item_id: str = Field(examples=["LA100000003GB"])
    state: str = Field(examples=["returned"])
    site: str = Field(examples=["GBLALA"])


@router.post(
    "/items/{item_id}/return",
    response_model=ReturnedOut,
    responses=PROBLEMS,
    summary="Return an accepted item to its sender (supervisors), with a reason",
    description="For an item accepted at this site and in no bag (held or not): it is"
    " `returned`, its tracking shows EXX (export cancelled) and the public sees"
    ' "Returned". The reason stays with staff.',
)
def post_return_to_sender(
    site: SiteCode,
    item_id: Annotated[str, Path(max_length=40, examples=["LA100000003GB"])],
    body: ReasonIn,
    p: Principal = Depends(SITE_STAFF),
    ops: SiteOps = Depends(site_ops),
) -> ReturnedOut:
    done = return_to_sender(ops, p, site, item_id, body.reason)
    return ReturnedOut(item_id=done.id, state=done.state, site=site)


@router.get(
    "/receptacles/{rid}/cn35.pdf",
    response_class=Response,
    responses={**PDF_OK, **PROBLEMS},
    summary="The CN35 label of a closed receptacle",
)
def get_cn35(
    site: SiteCode, rid: Rid, p: Principal = Depends(SITE_STAFF), ops: SiteOps = Depends(site_ops)
) -> Response:
    return Response(rcp.cn35_label(ops, p, site, rid), media_type="application/pdf")
