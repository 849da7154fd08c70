"""Sender portal: an item's receipt (JSON, to keep) and certificate of posting (PDF).

The same use case as ``/api/v1/items/{id}/receipt`` with the portal session's customer:
another account's item is the same 404 page as a missing one.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from postex.items.pages.items import pdf
from postex.network.sql.receipts import certificate_receipt, receipt_for
from postex.web.console import container
from postex.web.portal import PATH, customer_of, guarded, session_of

router = APIRouter(prefix=PATH, include_in_schema=False)


@router.get("/items/{item_id}/receipt.json")
def receipt(request: Request, item_id: str) -> Response:
    def answer() -> Response:
        c = container(request)
        body = receipt_for(c._sql, c.ctx, customer_of(session_of(request)), item_id)
        headers = {
            "Content-Disposition": f'attachment; filename="receipt-{item_id}.json"',
            "Cache-Control": "no-store",
        }
        text = json.dumps(body, indent=2, ensure_ascii=False)
        return Response(text, media_type="application/json", headers=headers)

    return guarded(request, answer)


@router.get("/items/{item_id}/certificate.pdf")
def certificate(request: Request, item_id: str) -> Response:
    def answer() -> Response:
        from postex.pdf.certificate import certificate_of, render_certificate

        c = container(request)
        body = certificate_receipt(c._sql, c.ctx, customer_of(session_of(request)), item_id)
        return pdf(render_certificate(certificate_of(body)), f"certificate-{item_id}.pdf")

    return guarded(request, answer)
