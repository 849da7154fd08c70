"""Portal printing: one PDF with the labels (and CN23s) of many items, and the end-of-day
collection manifest (a list, and a PDF with a barcode per item).

Both call the customer API's use cases (``batch_labels``, ``collection_items``,
``collection_manifest``) with the session's customer: an id that is not the customer's is
refused as missing, and nothing of another customer's is ever listed.
"""

from __future__ import annotations

import re
from datetime import date

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from postex.http.problems import status_for
from postex.items.app.documents import (
    MAX_BATCH,
    batch_labels,
    collection_items,
    collection_manifest,
)
from postex.items.pages.items import pdf
from postex.kernel.errors import PostexError, ValidationError
from postex.web.console import container
from postex.web.portal import PATH, changing, customer_of, guarded, page, session_of

router = APIRouter(prefix=PATH)
SEPARATORS = re.compile(r"[\s,;]+")


def _day(request: Request, text: str) -> date:
    if not text:
        return container(request).ctx.clock.now().date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError.single("date", "date", text, "a date such as 2026-12-04") from None


@router.get("/labels")
def labels_page(request: Request) -> Response:
    def answer() -> Response:
        session = session_of(request)
        today = container(request).ctx.clock.now().date().isoformat()
        return page(request, "items/labels.html", session, ids="", day=today, error="",
                    max_batch=MAX_BATCH)  # fmt: skip

    return guarded(request, answer)


@router.post("/labels")
def print_labels(
    request: Request,
    csrf_token: str = Form(""),
    ids: str = Form("", max_length=MAX_BATCH * 20),
    day: str = Form("", max_length=10),
) -> Response:
    """The labels of the ids given, or of every item made on ``day`` when no id is given."""

    def answer() -> Response:
        session = changing(request, csrf_token)
        c = container(request)
        customer_id = customer_of(session)
        wanted = [i for i in SEPARATORS.split(ids) if i]
        try:
            if not wanted:
                views = collection_items(c.ctx, customer_id, _day(request, day))
                wanted = [v.record.id for v in views if v.personal is not None]
            body = batch_labels(c.ctx, c.documents, customer_id, wanted)
        except PostexError as exc:
            details = [f"{e.field}: {e.message} ({e.value})" for e in getattr(exc, "errors", [])]
            message = "; ".join(details) or exc.detail
            return page(request, "items/labels.html", session, status_for(exc), ids=ids,
                        day=day, error=message, max_batch=MAX_BATCH)  # fmt: skip
        return pdf(body, "labels.pdf", download=True)

    return guarded(request, answer)


@router.get("/collection")
def collection_page(request: Request, date: str = Query("", max_length=10)) -> Response:
    def answer() -> Response:
        session = session_of(request)
        day = _day(request, date)
        views = collection_items(container(request).ctx, customer_of(session), day)
        rows = [
            {"id": v.record.id, "reference": (v.personal or {}).get("reference") or "",
             "destination": v.record.destination, "service": v.record.service,
             "weight_g": v.record.weight_g, "state": v.record.state}
            for v in views
        ]  # fmt: skip
        return page(request, "items/collection.html", session, rows=rows, day=day.isoformat(),
                    total_g=sum(r["weight_g"] for r in rows))  # fmt: skip

    return guarded(request, answer)


@router.get("/collection.pdf")
def collection_pdf(request: Request, date: str = Query("", max_length=10)) -> Response:
    def answer() -> Response:
        session = session_of(request)
        c = container(request)
        day = _day(request, date)
        body = collection_manifest(c.ctx, c.documents, customer_of(session), day)
        return pdf(body, f"collection-{day.isoformat()}.pdf", download=True)

    return guarded(request, answer)
