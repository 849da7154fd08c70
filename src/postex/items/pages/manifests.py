"""Portal manifests: upload a CSV or JSON manifest, see every refused row, upload again.

The file goes through the customer API's own checks (``items.app.manifests``): every row
is checked first, and by default one bad row stores nothing; each refusal is shown with
its line, field, rule and value. The upload is parsed in memory, as the API's is: a
manifest's personal data never rolls over into a temporary file.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from postex.accounts.app.sessions import Session
from postex.items.app.column_mapping import column_mapping, save_column_mapping
from postex.items.app.documents import MAX_BATCH
from postex.items.app.manifests import (
    COLUMNS,
    REQUIRED_COLUMNS,
    check_entries,
    entries_from_csv,
    entries_from_json,
    parse_json_body,
    remap_csv,
    submit_manifest,
)
from postex.items.app.preadvice import ItemRecord
from postex.items.domain.items import PreAdvice
from postex.kernel.errors import FieldError, ValidationError
from postex.web.console import container
from postex.web.portal import PATH, changing, customer_of, guarded, page, session_of

router = APIRouter(prefix=PATH)
MAX_FORM_BYTES = 32 * 1024 * 1024
SHOWN = 200  # stored items listed on the answer page (all are under Items)


class InMemoryParser(MultiPartParser):
    spool_max_size = MAX_FORM_BYTES


async def read_form(request: Request) -> tuple[dict[str, str], tuple[str, bytes] | None]:
    """The form's text fields and its ``file`` part (name, bytes), parsed in memory."""
    raw = await request.body()
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return {}, None

    async def body() -> Any:
        yield raw

    parser = InMemoryParser(request.headers, body(), max_files=1, max_fields=10,
                            max_part_size=MAX_FORM_BYTES)  # fmt: skip
    try:
        form = await parser.parse()
    except MultiPartException:
        return {}, None
    try:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        part = form.get("file")
        upload = (part.filename or "", await part.read()) if isinstance(part, UploadFile) else None
    finally:
        await form.close()
    return fields, upload


def _render(
    rows: list[tuple[int, ItemRecord, PreAdvice]], errors: list[FieldError]
) -> dict[str, Any]:
    return {"items": [{"line": line, "id": r.id, "reference": a.reference or "",
                       "destination": r.destination} for line, r, a in rows]}  # fmt: skip


def _refusal(e: FieldError) -> dict[str, Any]:
    value = "" if e.value is None else str(e.value)
    shown = value if len(value) <= 80 else value[:79] + "…"
    return {"line": e.line or "", "field": e.field, "rule": e.rule, "value": shown,
            "message": e.message}  # fmt: skip


def _page(
    request: Request,
    session: Session,
    status: int,
    refusals: list[dict[str, Any]],
    stored: list[dict[str, Any]],
    detail: str,
    filename: str,
) -> Response:
    mapped = bool(column_mapping(container(request).ctx, customer_of(session)))
    return page(request, "items/manifests.html", session, status, refusals=refusals,
                stored=stored, detail=detail, filename=filename, max_batch=MAX_BATCH,
                shown=SHOWN, mapped=mapped)  # fmt: skip


@router.get("/manifests")
def upload_page(request: Request) -> Response:
    def answer() -> Response:
        return _page(request, session_of(request), 200, [], [], "", "")

    return guarded(request, answer)


@router.post("/manifests")
async def upload(request: Request) -> Response:
    fields, upload = await read_form(request)

    def answer() -> Response:
        session = changing(request, fields.get("csrf_token"))
        ctx = container(request).ctx
        name, raw = upload or ("", b"")
        partial = fields.get("partial") == "on"
        try:
            if not raw:
                raise ValidationError.single("file", "required", None, "choose a CSV or JSON file")
            as_json = name.lower().endswith(".json") or raw.lstrip()[:1] == b"["
            mapping = column_mapping(ctx, customer_of(session))
            if not as_json and fields.get("mapped") == "on" and mapping:
                raw = remap_csv(raw, mapping)
            entries = entries_from_json(parse_json_body(raw)) if as_json else entries_from_csv(raw)
            checked = check_entries(entries, ctx.country, csv_rows=not as_json)
            stored = submit_manifest(ctx, customer_of(session), checked, _render, partial).body
            refused = [_refusal(e) for e in checked.errors]
        except ValidationError as exc:
            refusals = [_refusal(e) for e in exc.errors]
            return _page(request, session, 422, refusals, [], exc.detail, name)
        return _page(request, session, 201, refused, stored["items"], "", name)

    return await anyio.to_thread.run_sync(guarded, request, answer)


@router.get("/manifests/mapping")
def mapping_page(request: Request, saved: str = "") -> Response:
    def answer() -> Response:
        session = session_of(request)
        mapping = column_mapping(container(request).ctx, customer_of(session))
        return page(request, "items/mapping.html", session, columns=COLUMNS,
                    required=REQUIRED_COLUMNS, values=mapping, errors={},
                    notice="Column mapping saved." if saved else "")  # fmt: skip

    return guarded(request, answer)


@router.post("/manifests/mapping")
async def save_mapping(request: Request) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def answer() -> Response:
        session = changing(request, values.get("csrf_token"))
        wanted = {c: values.get(f"map-{c}", "") for c in COLUMNS}
        try:
            save_column_mapping(container(request).ctx, customer_of(session), wanted,
                                session.principal().actor())  # fmt: skip
        except ValidationError as exc:
            errors = {e.field: f"{e.message} (rule {e.rule})" for e in exc.errors}
            return page(request, "items/mapping.html", session, 422, columns=COLUMNS,
                        required=REQUIRED_COLUMNS, values=wanted, errors=errors,
                        notice="")  # fmt: skip
        return RedirectResponse("/portal/manifests/mapping?saved=1", status_code=303)

    return await anyio.to_thread.run_sync(guarded, request, answer)
