"""Portal items: the list with search and paging, one item, a new item, cancel, its PDFs.

Each page calls the customer API's use cases with the session's customer: the list is
``list_customer_items``, an item ``get_item`` (another customer's is the same 404 as a
missing one), a new item ``parse_pre_advice`` and ``create_items``, cancelling
``cancel_item``. The new-item form names its fields as the manifest CSV's columns, so the
API's rules come back naming the field they are about.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from postex.eventlog.context import Context
from postex.http.paging import decode_cursor, encode_cursor
from postex.items.app.customer_items import create_items, item_timeline, list_customer_items
from postex.items.app.documents import day_bounds, item_cn23, item_label
from postex.items.app.manifests import (
    ADDRESS_PARTS,
    LINE_COLUMNS,
    check_entries,
    entry_from_form,
)
from postex.items.app.preadvice import ItemFilter, ItemView, cancel_item, get_item
from postex.items.domain.items import ItemState
from postex.kernel.errors import FieldError, NotFoundError, ValidationError
from postex.kernel.event_codes import event_codes
from postex.kernel.ids import S10
from postex.kernel.reference import services
from postex.web.console import container
from postex.web.portal import PATH, changing, customer_of, guarded, page, session_of

router = APIRouter(prefix=PATH)
PAGE = 50
STATES = [str(s) for s in ItemState]
CATEGORIES = ("sale_of_goods", "gift", "documents", "commercial_sample", "returned_goods",
              "other")  # fmt: skip
GOODS_LINES = 3  # rows of goods lines the form offers


def _ctx(request: Request) -> Context:
    return container(request).ctx


def _row(view: ItemView) -> dict[str, Any]:
    r = view.record
    return {"id": r.id, "reference": (view.personal or {}).get("reference") or "",
            "destination": r.destination, "service": r.service, "state": r.state,
            "created": r.created_at[:10], "customs_form": r.customs_form or ""}  # fmt: skip


def _search(
    ctx: Context, customer_id: str, q: dict[str, str]
) -> tuple[list[ItemView], str | None, dict[str, str]]:
    """One page of the customer's items for the search form; errors by field."""
    errors: dict[str, str] = {}
    if q["id"]:
        try:
            item_id = str(S10.parse(q["id"].upper(), "id"))
            return [get_item(ctx, customer_id, item_id)], None, errors
        except ValidationError as exc:
            return [], None, {e.field: e.message for e in exc.errors}
        except NotFoundError:
            return [], None, errors
    if q["state"] and q["state"] not in STATES:
        errors["state"] = "choose a state from the list"
    destination = q["destination"].strip().upper()
    if destination and (len(destination) != 2 or not destination.isalpha()):
        errors["destination"] = "a two-letter country code, e.g. US"
    bounds: tuple[str | None, str | None] = (None, None)
    if q["date"]:
        try:
            bounds = day_bounds(date.fromisoformat(q["date"]))
        except ValueError:
            errors["date"] = "a date such as 2026-12-04"
    if errors:
        return [], None, errors
    flt = ItemFilter(q["state"] or None, destination or None, None, *bounds)
    try:
        after = decode_cursor(q["cursor"] or None)
    except ValidationError:
        after = None
    views = list_customer_items(ctx, customer_id, flt, q["reference"].strip() or None, after,
                                PAGE + 1)  # fmt: skip
    more = len(views) > PAGE
    views = views[:PAGE]
    cursor = encode_cursor((views[-1].record.created_at, views[-1].record.id)) if more else None
    return views, cursor, errors


@router.get("/items")
def list_page(
    request: Request,
    id: str = Query("", max_length=40),
    reference: str = Query("", max_length=35),
    destination: str = Query("", max_length=8),
    state: str = Query("", max_length=20),
    date: str = Query("", max_length=10),
    cursor: str = Query("", max_length=200),
) -> Response:
    def answer() -> Response:
        session = session_of(request)
        q = {"id": id.strip(), "reference": reference, "destination": destination,
             "state": state, "date": date, "cursor": cursor}  # fmt: skip
        views, next_cursor, errors = _search(_ctx(request), customer_of(session), q)
        filters = {k: v for k, v in q.items() if v and k != "cursor"}
        next_href = None
        if next_cursor:
            next_href = "/portal/items?" + urlencode({**filters, "cursor": next_cursor})
        return page(request, "items/list.html", session, 422 if errors else 200,
                    rows=[_row(v) for v in views], q=q, errors=errors, states=STATES,
                    next_href=next_href, paged=bool(cursor),
                    first_href="/portal/items?" + urlencode(filters))  # fmt: skip

    return guarded(request, answer)


FORM_FIELDS = frozenset(
    {"service", "reference", "weight_g", "length_mm", "width_mm", "height_mm",
     "contents_category", "invoice_number", "comments", "importer_tax_id", "importer_ioss",
     "importer_eori", *(f"{w}_{p}" for w in ("sender", "addressee") for p in ADDRESS_PARTS),
     *(f"{c}-{n}" for c in LINE_COLUMNS for n in range(1, GOODS_LINES + 1))}
)  # fmt: skip


def _form_context(values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    others = [(k, v) for k, v in errors.items() if k not in FORM_FIELDS]
    return {"values": values, "errors": errors, "others": others, "parts": ADDRESS_PARTS,
            "line_columns": LINE_COLUMNS, "goods_lines": range(1, GOODS_LINES + 1),
            "categories": CATEGORIES,
            "services": sorted(services().by_code.values(), key=lambda s: s.code)}  # fmt: skip


@router.get("/items/new")
def new_page(request: Request) -> Response:
    def answer() -> Response:
        session = session_of(request)
        values = {"sender_country": _ctx(request).country, "contents_category": "sale_of_goods",
                  "service": "tracked", "currency-1": "GBP"}  # fmt: skip
        return page(request, "items/new.html", session, **_form_context(values, {}))

    return guarded(request, answer)


def _field_name(error: FieldError) -> str:
    """The form field an error is about: goods-line columns carry their row number."""
    if error.field in LINE_COLUMNS and error.line:
        return f"{error.field}-{error.line}"
    if error.field in ("sender_address_lines", "addressee_address_lines"):
        return error.field.replace("lines", "line_1")
    return error.field


@router.post("/items/new")
async def create(request: Request) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def answer() -> Response:
        session = changing(request, values.get("csrf_token"))
        ctx = _ctx(request)
        lines = [{c: values.get(f"{c}-{n}", "").strip() for c in LINE_COLUMNS}
                 for n in range(1, GOODS_LINES + 1)]  # fmt: skip
        item = {k: v.strip() for k, v in values.items() if "-" not in k and k != "csrf_token"}
        checked = check_entries([entry_from_form(item, lines)], ctx.country, csv_rows=True)
        if checked.errors:
            errors: dict[str, str] = {}
            for e in checked.errors:
                errors.setdefault(_field_name(e), f"{e.message} (rule {e.rule})")
            return page(request, "items/new.html", session, 422,
                        **_form_context(values, errors))  # fmt: skip
        [(_, advice)] = checked.good
        answer = create_items(ctx, customer_of(session), [advice],
                              lambda records, _a: {"id": records[0].id})  # fmt: skip
        return RedirectResponse(f"/portal/items/{answer.body['id']}?created=1", status_code=303)

    return await anyio.to_thread.run_sync(guarded, request, answer)


@router.get("/items/{item_id}")
def item_page(request: Request, item_id: str, created: str = "", cancelled: str = "") -> Response:
    def answer() -> Response:
        session = session_of(request)
        ctx, customer_id = _ctx(request), customer_of(session)
        view = get_item(ctx, customer_id, item_id)
        codes = event_codes()
        timeline = [{"code": r.code, "what": codes[r.code].description if r.code in codes
                     else r.code, "place": r.office or "", "time": r.occurred_at,
                     "reason": r.reason or ""}
                    for r in item_timeline(ctx, customer_id, item_id)]  # fmt: skip
        notice = "Item created." if created else "Item cancelled." if cancelled else ""
        return page(request, "items/item.html", session, item=_row(view),
                    personal=view.personal, timeline=timeline, notice=notice,
                    printable=view.record.state != ItemState.CANCELLED and view.personal,
                    cancellable=view.record.state == ItemState.PRE_ADVISED)  # fmt: skip

    return guarded(request, answer)


@router.post("/items/{item_id}/cancel")
def cancel(request: Request, item_id: str, csrf_token: str = Form("")) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        cancel_item(_ctx(request), customer_of(session), item_id, actor="customer")
        return RedirectResponse(f"/portal/items/{item_id}?cancelled=1", status_code=303)

    return guarded(request, answer)


def pdf(body: bytes, filename: str, *, download: bool = False) -> Response:
    """A PDF answer: shown in the browser, or saved (``download``) as batches are."""
    how = "attachment" if download else "inline"
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'{how}; filename="{filename}"',
                             "Cache-Control": "no-store"})  # fmt: skip


@router.get("/items/{item_id}/label.pdf")
def label(request: Request, item_id: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        c = container(request)
        return pdf(item_label(c.ctx, c.documents, customer_of(session), item_id), f"{item_id}.pdf")

    return guarded(request, answer)


@router.get("/items/{item_id}/cn23.pdf")
def cn23(request: Request, item_id: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        c = container(request)
        body = item_cn23(c.ctx, c.documents, customer_of(session), item_id)
        return pdf(body, f"{item_id}-cn23.pdf")

    return guarded(request, answer)
