"""The site's held-items queue: which hold keeps each item, and its advisory, from the
same ``held_items`` and ``flagged_receptacles`` as ``GET /api/v1/holds/held-items``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from postex.incidents.app.holds import flagged_receptacles, held_items, list_holds
from postex.sites.app.ops import READING_ROLES
from postex.sites.pages.common import ops_of
from postex.web.console import guarded, page, session_of

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
                    flagged=flagged_receptacles(ops.ctx, p, where.code))  # fmt: skip

    return guarded(request, answer)
