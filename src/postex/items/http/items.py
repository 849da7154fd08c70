"""Customer API: pre-advise, list, read, cancel items; timeline, label and CN23.

Authentication comes first: no key or a revoked key is 401 whether or not the item
exists. Then every use case is scoped to the calling customer in the store, so another
customer's item answers exactly like a missing one (404).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from postex.eventlog.chain import format_time
from postex.eventlog.context import Context
from postex.http.deps import context
from postex.http.paging import decode_cursor, encode_cursor
from postex.items.app.customer_items import Answer, create_items, item_timeline, list_customer_items
from postex.items.app.documents import Documents, item_cn23, item_label
from postex.items.app.idempotency import find, idempotency
from postex.items.app.preadvice import ItemFilter, ItemRecord, ItemView, cancel_item, get_item
from postex.items.domain.items import PreAdvice, parse_pre_advice
from postex.items.http.customer import (
    IDEMPOTENCY_KEY,
    answer_response,
    customer,
    documents,
    idempotency_retention,
)
from postex.items.http.schemas import (
    ItemDetail,
    ItemIn,
    ItemOut,
    ItemPage,
    ItemStateName,
    Timeline,
    TimelineEvent,
    problems,
)
from postex.kernel.errors import ValidationError
from postex.kernel.event_codes import event_codes

router = APIRouter(prefix="/api/v1", tags=["items"])
ITEM_ID = Path(min_length=1, max_length=40, description="S10 item id", examples=["LA100000003GB"])


class PdfResponse(Response):
    media_type = "application/pdf"


def links(record: ItemRecord) -> dict[str, str | None]:
    base = f"/api/v1/items/{record.id}"
    return {
        "self": base,
        "label": f"{base}/label.pdf",
        "cn23": f"{base}/cn23.pdf" if record.customs_form == "CN23" else None,
        "events": f"{base}/events",
        "tracking": f"/api/v1/tracking/{record.id}",
    }


def item_out(record: ItemRecord, reference: str | None) -> dict[str, Any]:
    return {
        "id": record.id,
        "state": str(record.state),
        "service": record.service,
        "destination": record.destination,
        "customs_form": record.customs_form,
        "weight_g": record.weight_g,
        "reference": reference,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "links": links(record),
    }


def view_out(view: ItemView) -> dict[str, Any]:
    return item_out(view.record, (view.personal or {}).get("reference"))


def detail_out(view: ItemView) -> dict[str, Any]:
    personal = view.personal
    out = view_out(view)
    out["personal_data_erased"] = personal is None
    for key in ("sender", "addressee", "contents", "importer"):
        out[key] = personal.get(key) if personal is not None else None
    return out


@router.post(
    "/items",
    status_code=201,
    response_model=ItemOut,
    summary="Pre-advise one item",
    description="Validates the item and its customs data, issues an S10 id and says which "
    "customs form it needs (CN22, CN23 or none). Export holds in scope refuse it (409). "
    "An erased customer account can no longer pre-advise (403, rule customer_erased).",
    responses=problems(401, 403, 409, 413, 422, 429, 503, creating=True),
)
def create_item(
    payload: ItemIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
    customer_id: str = Depends(customer),
    ctx: Context = Depends(context),
    retention: timedelta = Depends(idempotency_retention),
) -> JSONResponse:
    data = payload.model_dump(exclude_unset=True)
    body = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    idem = idempotency(idempotency_key, b"POST /api/v1/items", body, retention=retention)
    replay = find(ctx, customer_id, idem)
    if replay is not None:
        first = Answer(replay.status, replay.body, replayed=True)
        return answer_response(first, str(replay.body.get("links", {}).get("self", "")))
    advice = parse_pre_advice(data, ctx.country)

    def render(records: list[ItemRecord], advices: Any) -> dict[str, Any]:
        [record], [adv] = records, advices
        assert isinstance(adv, PreAdvice)
        return item_out(record, adv.reference)

    answer = create_items(ctx, customer_id, [advice], render, idem)
    return answer_response(answer, str(answer.body["links"]["self"]))


RFC3339 = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,9}))?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def DATE_TIME(bound: str) -> Any:  # noqa: N802 - reads like the other parameter declarations
    return Query(
        None,
        max_length=40,
        description=f"{bound}; RFC 3339 date-time with offset",
        examples=["2026-11-01T00:00:00Z"],
        json_schema_extra={"format": "date-time"},
    )


def _utc(value: str | None, field: str) -> str | None:
    """An RFC 3339 date-time as the log's UTC text; ValidationError otherwise."""
    if value is None:
        return None
    moment = None
    if m := RFC3339.fullmatch(value):
        day, clock, fraction, offset = m.groups()
        micro = (fraction or "").ljust(6, "0")[:6]
        zone = "+00:00" if offset in ("Z", "z") else offset
        try:
            moment = datetime.fromisoformat(f"{day}T{clock}.{micro}{zone}")
        except ValueError:
            moment = None
    if moment is None:
        raise ValidationError.single(
            field,
            "date_time",
            value,
            "an RFC 3339 date-time with offset, e.g. 2026-11-01T00:00:00Z",
        )
    return format_time(moment.astimezone(UTC))


@router.get(
    "/items",
    response_model=ItemPage,
    summary="List own items",
    description="Own items only, oldest first, filtered; page with the opaque next_cursor.",
    responses=problems(401, 403, 422, 429),
)
def list_items(
    state: ItemStateName | None = Query(None),
    destination: str | None = Query(None, pattern=r"^[A-Z]{2}$", examples=["US"]),
    service: str | None = Query(None, max_length=32, examples=["tracked"]),
    created_from: str | None = DATE_TIME("inclusive"),
    created_to: str | None = DATE_TIME("exclusive"),
    reference: str | None = Query(None, min_length=1, max_length=35, examples=["ORDER-1042"]),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
    customer_id: str = Depends(customer),
    ctx: Context = Depends(context),
) -> dict[str, Any]:
    flt = ItemFilter(
        state,
        destination,
        service,
        _utc(created_from, "created_from"),
        _utc(created_to, "created_to"),
    )
    views = list_customer_items(ctx, customer_id, flt, reference, decode_cursor(cursor), limit + 1)
    page = views[:limit]
    more = len(views) > limit
    return {
        "items": [view_out(v) for v in page],
        "next_cursor": (
            encode_cursor((page[-1].record.created_at, page[-1].record.id))
            if more and page
            else None
        ),
    }


@router.get(
    "/items/{item_id}",
    response_model=ItemDetail,
    summary="One own item in full",
    responses=problems(401, 403, 404, 422, 429),
)
def read_item(
    item_id: str = ITEM_ID,
    customer_id: str = Depends(customer),
    ctx: Context = Depends(context),
) -> dict[str, Any]:
    return detail_out(get_item(ctx, customer_id, item_id))


@router.delete(
    "/items/{item_id}",
    response_model=ItemOut,
    summary="Cancel an item before acceptance",
    description="Allowed while the item is pre-advised; afterwards 409.",
    responses=problems(401, 403, 404, 409, 422, 429),
)
def delete_item(
    item_id: str = ITEM_ID,
    customer_id: str = Depends(customer),
    ctx: Context = Depends(context),
) -> dict[str, Any]:
    cancel_item(ctx, customer_id, item_id, actor="customer")
    return view_out(get_item(ctx, customer_id, item_id))


@router.get(
    "/items/{item_id}/events",
    response_model=Timeline,
    summary="Full timeline of an own item",
    responses=problems(401, 403, 404, 422, 429),
)
def item_events(
    item_id: str = ITEM_ID,
    customer_id: str = Depends(customer),
    ctx: Context = Depends(context),
) -> Timeline:
    codes = event_codes()
    rows = item_timeline(ctx, customer_id, item_id)
    return Timeline(
        id=item_id,
        events=[
            TimelineEvent(
                code=r.code,
                description=codes[r.code].description if r.code in codes else r.code,
                place=r.office,
                time=r.occurred_at,
                reason=r.reason,
                source=r.source,
            )
            for r in rows
        ],
    )


PDF_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "PDF document",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "/items/{item_id}/label.pdf",
    response_class=PdfResponse,
    summary="4×6 inch address label (with the CN22 when needed)",
    responses={**PDF_OK, **problems(401, 403, 404, 409, 422, 429)},
)
def label_pdf(
    item_id: str = ITEM_ID,
    customer_id: str = Depends(customer),
    ctx: Context = Depends(context),
    docs: Documents = Depends(documents),
) -> PdfResponse:
    pdf = item_label(ctx, docs, customer_id, item_id)
    return PdfResponse(pdf, headers={"Content-Disposition": f'inline; filename="{item_id}.pdf"'})


@router.get(
    "/items/{item_id}/cn23.pdf",
    response_class=PdfResponse,
    summary="CN23 customs declaration on A4",
    description="Only for items whose customs_form is CN23; 409 (rule no_cn23) otherwise.",
    responses={**PDF_OK, **problems(401, 403, 404, 409, 422, 429)},
)
def cn23_pdf(
    item_id: str = ITEM_ID,
    customer_id: str = Depends(customer),
    ctx: Context = Depends(context),
    docs: Documents = Depends(documents),
) -> PdfResponse:
    pdf = item_cn23(ctx, docs, customer_id, item_id)
    return PdfResponse(
        pdf, headers={"Content-Disposition": f'inline; filename="{item_id}-cn23.pdf"'}
    )
