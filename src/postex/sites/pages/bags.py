"""Bags (receptacles) at a site: the list, opening one for a series, scanning items into
it, taking one out, closing with the gross weight, the CN35 label, and (supervisors)
reopening a closed bag with a reason."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from postex.sites.app import receptacles as rcp
from postex.sites.app.ops import READING_ROLES
from postex.sites.app.routing import series_from
from postex.sites.app.scanning import scan_into_bag
from postex.sites.domain.receptacles import MAX_REASON, ReceptacleState
from postex.sites.pages.common import after_post, handling, ops_of, pdf, supervising
from postex.web.console import changing, guarded, page, session_of

router = APIRouter(prefix="/console/sites/{site}/bags")
LAST = {"": None, "yes": True, "no": False}


def _grams(text: str) -> object:
    """Whole grams as typed ("1 250", "1250 g"); anything else goes to the app as typed,
    which refuses it with the API's rule."""
    cleaned = text.replace(" ", "").lower().removesuffix("g")
    return int(cleaned) if cleaned.isdigit() else text


@router.get("")
def bags_page(request: Request, site: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        ops = ops_of(request)
        where = ops.site(session.principal(), site, READING_ROLES)
        p = session.principal()
        open_bags = rcp.list_receptacles(ops, p, site, ReceptacleState.OPEN, limit=1000)
        closed = rcp.list_receptacles(ops, p, site, ReceptacleState.CLOSED, limit=1000)
        return page(request, "sites/bags.html", session, site=where.code,
                    site_name=where.name, open_bags=open_bags, closed=closed,
                    series=series_from(ops, p, site), handling=handling(session))  # fmt: skip

    return guarded(request, answer)


@router.post("")
def open_bag(
    request: Request, site: str, series: str = Form(""), csrf_token: str = Form("")
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        destination, category, subclass = [*series.split("/"), "", "", ""][:3]
        bag = rcp.open_receptacle(
            ops_of(request), session.principal(), site, destination, category, subclass
        )
        return after_post(request, f"/console/sites/{bag.site}/bags/{bag.id}")

    return guarded(request, answer)


def _bag_context(request: Request, site: str, rid: str) -> dict[str, Any]:
    session = session_of(request)
    ops = ops_of(request)
    p = session.principal()
    bag = rcp.get_receptacle(ops, p, site, rid)
    where = ops.site(p, site, READING_ROLES)
    return {"site": where.code, "site_name": where.name, "bag": bag,
            "items": rcp.receptacle_item_ids(ops, p, site, rid),
            "supervising": supervising(session), "handling": handling(session),
            "max_reason": MAX_REASON}  # fmt: skip


@router.get("/{rid}")
def bag_page(request: Request, site: str, rid: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        return page(request, "sites/bag.html", session, result=None, oob=False,
                    **_bag_context(request, site, rid))  # fmt: skip

    return guarded(request, answer)


@router.post("/{rid}/items")
def scan_item(
    request: Request, site: str, rid: str, item_id: str = Form(""), csrf_token: str = Form("")
) -> Response:
    """One scan into the bag: the answer fragment for htmx (with the bag's list and summary
    swapped out of band), or the whole page without JavaScript."""

    def answer() -> Response:
        session = changing(request, csrf_token)
        result = scan_into_bag(ops_of(request), session.principal(), site, rid, item_id)
        context = _bag_context(request, site, rid)
        if request.headers.get("HX-Request"):
            return page(request, "sites/bag_answer.html", session, result=result, oob=True,
                        **context)  # fmt: skip
        return page(request, "sites/bag.html", session, result=result, oob=False, **context)

    return guarded(request, answer)


@router.post("/{rid}/items/{item_id}/remove")
def remove_item(
    request: Request, site: str, rid: str, item_id: str, csrf_token: str = Form("")
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        rcp.remove_item(ops_of(request), session.principal(), site, rid, item_id)
        return after_post(request, f"/console/sites/{site}/bags/{rid}")

    return guarded(request, answer)


@router.post("/{rid}/close")
def close_bag(
    request: Request,
    site: str,
    rid: str,
    gross_weight_g: str = Form(""),
    last: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        gross = _grams(gross_weight_g)
        rcp.close_receptacle(ops_of(request), session.principal(), site, rid, gross, LAST.get(last))
        return after_post(request, f"/console/sites/{site}/bags/{rid}")

    return guarded(request, answer)


@router.post("/{rid}/reopen")
def reopen_bag(
    request: Request, site: str, rid: str, reason: str = Form(""), csrf_token: str = Form("")
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        rcp.reopen_receptacle(ops_of(request), session.principal(), site, rid, reason)
        return after_post(request, f"/console/sites/{site}/bags/{rid}")

    return guarded(request, answer)


@router.get("/{rid}/cn35.pdf")
def cn35(request: Request, site: str, rid: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        label = rcp.cn35_label(ops_of(request), session.principal(), site, rid)
        return pdf(label, f"CN35-{rid}.pdf")

    return guarded(request, answer)
