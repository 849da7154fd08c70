"""The site's held-items queue: which hold keeps each item, and its advisory, from the
same ``held_items`` and ``flagged_receptacles`` as ``GET /api/v1/holds/held-items``."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from postex.incidents.app.holds import flagged_receptacles, held_items, list_holds
from postex.sites.app.ops import READING_ROLES
from postex.sites.app.returns import return_to_sender
from postex.sites.domain.receptacles import MAX_REASON
from postex.sites.pages.common import after_post, ops_of, supervising
from postex.web.console import changing, guarded, page, session_of

router = APIRouter(prefix="/console/sites/{site}/held")


@router.get("")
def held_page(request: Request, site: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        ops = ops_of(request)
        p = session.principal()
        where = ops.site(p, site, READING_ROLES)
        items = held_items(ops.ctx, p, where.code, limit=1000)
        holds = {h.id: h for h in list_holds(ops.ctx, p)}
        return page(request, "sites/held.html", session, site=where.code,
                    site_name=where.name, items=items, holds=holds,
                    flagged=flagged_receptacles(ops.ctx, p, where.code),
                    supervising=supervising(session), max_reason=MAX_REASON)  # fmt: skip

    return guarded(request, answer)


@router.post("/{item_id}/return")
def return_item(
    request: Request, site: str, item_id: str, reason: str = Form(""), csrf_token: str = Form("")
) -> Response:
    """A supervisor returns a held item to its sender (the same use case as the API's)."""

    def answer() -> Response:
        session = changing(request, csrf_token)
        return_to_sender(ops_of(request), session.principal(), site, item_id, reason)
        return after_post(request, f"/console/sites/{site}/held")

    return guarded(request, answer)
