"""Customer API: manifests of up to 10,000 items, as a JSON array or a CSV upload."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from postex.app.context import Context
from postex.app.idempotency import find, idempotency
from postex.app.items import ItemRecord
from postex.app.manifests import (
    MAX_ITEMS,
    check_entries,
    entries_from_csv,
    entries_from_json,
    parse_json_body,
    submit_manifest,
)
from postex.domain.errors import FieldError, ValidationError
from postex.domain.items import PreAdvice
from postex.entrypoints.http.customer_api import (
    IDEMPOTENCY_KEY,
    answer_response,
    customer,
    idempotency_retention,
    known_query,
)
from postex.entrypoints.http.deps import context
from postex.entrypoints.http.schemas_items import ManifestOut, problems

router = APIRouter(prefix="/api/v1", tags=["manifests"])
CSV_TYPES = ("text/csv", "application/csv")
CSV_EXAMPLE = (
    "reference,service,weight_g,sender_name,sender_address_line_1,sender_city,sender_postcode,"
    "sender_country,addressee_name,addressee_address_line_1,addressee_city,addressee_region,"
    "addressee_postcode,addressee_country,contents_category,description,quantity,net_weight_g,"
    "value_minor,currency,hs_code,origin_country\n"
    "ORDER-1042,tracked,850,Margaret Thistlewood,14 Marigold Lane,London,SW1A 1AA,GB,"
    "Bartholomew Quincey,2200 Juniper Boulevard,New York,NY,10001,US,sale_of_goods,"
    "Cotton T-shirt,2,400,2500,GBP,610910,GB\n"
)
REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ItemIn"},
                "minItems": 1,
                "maxItems": MAX_ITEMS,
            },
        },
        "text/csv": {
            "schema": {"type": "string"},
            "example": CSV_EXAMPLE,
        },
    },
}


def _render(
    rows: list[tuple[int, ItemRecord, PreAdvice]], errors: list[FieldError]
) -> dict[str, Any]:
    return {
        "accepted": len(rows),
        "rejected": len({e.line for e in errors}),
        "items": [
            {
                "line": line,
                "id": record.id,
                "reference": advice.reference,
                "service": record.service,
                "customs_form": record.customs_form,
            }
            for line, record, advice in rows
        ],
        "errors": [e.to_dict() for e in errors],
    }


@router.post(
    "/manifests",
    status_code=201,
    response_model=ManifestOut,
    summary="Pre-advise up to 10,000 items at once (JSON array or CSV)",
    description=(
        "Send `Content-Type: application/json` with an array of items (the shape of "
        "POST /api/v1/items), or `Content-Type: text/csv` with the columns documented in "
        "docs/api.md (UTF-8, one row per goods line, rows grouped by `reference`). By default "
        "one bad row rejects everything (422, every broken rule listed with its line). With "
        "`partial=true` the good items are stored and the bad ones reported in `errors`."
    ),
    openapi_extra={"requestBody": REQUEST_BODY},
    dependencies=[known_query("partial")],
    responses=problems(401, 403, 409, 413, 422, 429),
)
async def post_manifest(
    request: Request,
    partial: bool = Query(False, description="store the good items, report the bad ones"),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
    customer_id: str = Depends(customer),
    ctx: Context = Depends(context),
    retention: timedelta = Depends(idempotency_retention),
) -> JSONResponse:
    raw = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    idem = idempotency(
        idempotency_key,
        b"POST /api/v1/manifests",
        media.encode(),
        str(partial).encode(),
        raw,
        retention=retention,
    )

    def run() -> JSONResponse:
        replay = find(ctx, customer_id, idem)
        if replay is not None:
            return JSONResponse(
                replay.body, status_code=replay.status, headers={"Idempotent-Replayed": "true"}
            )
        if media in CSV_TYPES:
            entries = entries_from_csv(raw)
        elif media in ("application/json", ""):
            entries = entries_from_json(parse_json_body(raw))
        else:
            raise ValidationError.single(
                "Content-Type", "media_type", media, "send application/json or text/csv"
            )
        checked = check_entries(entries, ctx.country, csv_rows=media in CSV_TYPES)
        answer = submit_manifest(ctx, customer_id, checked, _render, partial, idem)
        return answer_response(answer)

    return await anyio.to_thread.run_sync(run)
