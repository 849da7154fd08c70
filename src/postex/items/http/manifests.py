"""Customer API: manifests of up to 10,000 items, as a JSON array or a CSV upload.

A CSV arrives either as the raw body (``text/csv``) or as the file field ``file`` of a
``multipart/form-data`` form (what browsers and ``curl -F file=@manifest.csv`` send); both
go through the same checks. The multipart body is parsed here, from the bytes already
read (so the 32 MiB limit applies), and any malformation is a 422 problem, never a 400
without a rule.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from postex.eventlog.context import Context
from postex.http.deps import context
from postex.items.app.idempotency import find, idempotency
from postex.items.app.manifests import (
    MAX_ITEMS,
    check_entries,
    entries_from_csv,
    entries_from_json,
    parse_json_body,
    submit_manifest,
)
from postex.items.app.preadvice import ItemRecord
from postex.items.domain.items import PreAdvice
from postex.items.http.customer import (
    IDEMPOTENCY_KEY,
    answer_response,
    customer,
    idempotency_retention,
)
from postex.items.http.schemas import ManifestOut, problems
from postex.kernel.errors import FieldError, ValidationError

router = APIRouter(prefix="/api/v1", tags=["manifests"])
CSV_TYPES = ("text/csv", "application/csv")
MULTIPART = "multipart/form-data"
FILE_FIELD = "file"
# What browsers and tools label a .csv file with (Windows says vnd.ms-excel); anything
# else (a spreadsheet, a PDF) is refused by name.
FILE_TYPES = frozenset(
    {"", *CSV_TYPES, "text/plain", "application/vnd.ms-excel", "application/octet-stream"}
)
UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii"})
MAX_FORM_BYTES = 32 * 1024 * 1024
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
        MULTIPART: {
            "schema": {
                "type": "object",
                "properties": {
                    FILE_FIELD: {
                        "type": "string",
                        "format": "binary",
                        "description": "the CSV manifest (UTF-8), as a file part",
                    }
                },
                "required": [FILE_FIELD],
                "additionalProperties": False,
            },
            "encoding": {FILE_FIELD: {"contentType": "text/csv"}},
        },
    },
}


class InMemoryParser(MultiPartParser):
    """Keeps file parts in memory: the body is there already, and a manifest's personal
    data must not roll over into a temporary file on disk."""

    spool_max_size = MAX_FORM_BYTES


def _refuse(field: str, rule: str, value: object, message: str) -> ValidationError:
    return ValidationError.single(field, rule, value, message)


async def csv_from_form(headers: Headers, raw: bytes) -> bytes:
    """The CSV bytes of the form's ``file`` part; ValidationError for anything else."""

    async def body() -> Any:
        yield raw

    parser = InMemoryParser(
        headers, body(), max_files=10, max_fields=10, max_part_size=MAX_FORM_BYTES
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise _refuse(
            "body", "multipart", None, f"not a valid multipart/form-data body: {exc.message}"
        ) from None
    try:
        unknown = sorted({k for k in form if k != FILE_FIELD})
        if unknown:
            raise ValidationError(
                FieldError(k, "unknown_field", k, f"unknown form field {k!r}; send only 'file'")
                for k in unknown
            )
        parts = form.getlist(FILE_FIELD)
        if not parts:
            raise _refuse(
                FILE_FIELD,
                "required",
                None,
                "send the CSV in the form field 'file', e.g. curl -F file=@manifest.csv",
            )
        if len(parts) > 1:
            raise _refuse(FILE_FIELD, "max_files", len(parts), "send one CSV file per manifest")
        [part] = parts
        if not isinstance(part, UploadFile):
            raise _refuse(
                FILE_FIELD,
                "file_part",
                None,
                "'file' must be a file part (with a filename), not a text field",
            )
        media = (part.content_type or "").split(";")[0].strip().lower()
        if media not in FILE_TYPES:
            raise _refuse(
                FILE_FIELD,
                "media_type",
                media,
                "the file must be a CSV (text/csv, UTF-8); save spreadsheets as 'CSV UTF-8' first",
            )
        charset = part.headers.get("content-type", "").lower().partition("charset=")[2]
        charset = charset.split(";")[0].strip().strip('"')
        if charset and charset not in UTF8_NAMES:
            raise _refuse(FILE_FIELD, "encoding", charset, "a CSV manifest is UTF-8")
        return await part.read()
    finally:
        await form.close()


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
        "docs/api.md (UTF-8, one row per goods line, rows grouped by `reference`), or the same "
        "CSV as the file field `file` of a `multipart/form-data` upload. By default "
        "one bad row rejects everything (422, every broken rule listed with its line). With "
        "`partial=true` the good items are stored and the bad ones reported in `errors`."
    ),
    openapi_extra={"requestBody": REQUEST_BODY},
    responses=problems(401, 403, 409, 413, 422, 429, 503, creating=True),
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
    if media == MULTIPART:
        # The same CSV as a form or as the raw body is the same request: a retry through
        # another client (with another multipart boundary) still replays.
        raw, media = await csv_from_form(request.headers, raw), "text/csv"
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
                "Content-Type",
                "media_type",
                media,
                "send application/json, text/csv or multipart/form-data (field 'file')",
            )
        checked = check_entries(entries, ctx.country, csv_rows=media in CSV_TYPES)
        answer = submit_manifest(ctx, customer_id, checked, _render, partial, idem)
        return answer_response(answer)

    return await anyio.to_thread.run_sync(run)
