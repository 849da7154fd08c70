"""Acceptance at the counter, one scan at a time.

The scan field posts to the same app function chain as ``POST /api/v1/sites/{site}/
acceptances`` (``scan_at_counter`` → ``accept``, then ``which_bag``); htmx swaps the
answer in place. Another site of a clerk is 404, as in the API.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from postex.sites.app.ops import SITE_ROLES
from postex.sites.app.scanning import Outcome, scan_at_counter
from postex.web.console import changing, console, container, guarded, page, session_of

router = APIRouter(prefix="/console/sites/{site}", include_in_schema=False)


def _counts(accepted: int, refused: int, held: int) -> dict[str, int]:
    return {"accepted": accepted, "refused": refused, "held": held}


@router.get("/accept")
def accept_page(request: Request, site: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        ops = container(request).site_ops
        where = ops.site(session.principal(), site, SITE_ROLES)
        counts = _counts(session.accepted, session.refused, session.held)
        return page(request, "sites/accept.html", session, site=where.code,
                    site_name=where.name, counts=counts, result=None, weight="",
                    oob=False, oob_counts=False)  # fmt: skip

    return guarded(request, answer)


@router.post("/accept")
def scan(
    request: Request,
    site: str,
    item_id: str = Form(""),
    weight_g: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """One scan: the answer fragment for htmx, or the whole page without JavaScript."""

    def answer() -> Response:
        session = changing(request, csrf_token)
        ops = container(request).site_ops
        result = scan_at_counter(ops, session.principal(), site, item_id, weight_g)
        console(request).sessions.count(session.id_sha256, str(result.outcome))
        bump = {str(o): int(o is result.outcome) for o in Outcome}
        counts = _counts(session.accepted + bump["accepted"], session.refused + bump["refused"],
                         session.held + bump["held"])  # fmt: skip
        if request.headers.get("HX-Request"):
            return page(request, "sites/answer.html", session, result=result, counts=counts,
                        oob=True, oob_counts=True)  # fmt: skip
        where = ops.site(session.principal(), site, SITE_ROLES)
        return page(request, "sites/accept.html", session, site=where.code,
                    site_name=where.name, counts=counts, result=result, weight=weight_g,
                    oob=False, oob_counts=False)  # fmt: skip

    return guarded(request, answer)
