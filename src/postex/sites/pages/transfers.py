"""Transfers at the console: send accepted items to the site their route leaves from, and
scan in items sent here, with the same ``transfer_out`` and ``receive`` as
``POST /api/v1/sites/{site}/transfers`` and ``…/transfers/received``. Refusals come back as
the console's error page, naming each item and rule, as the API's problem does."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from postex.sites.app.ops import SITE_ROLES
from postex.sites.app.transfers import receive, transfer_out
from postex.sites.pages.common import ops_of
from postex.web.console import changing, guarded, page, session_of

router = APIRouter(prefix="/console/sites/{site}/transfers")


def _ids(text: str) -> list[str]:
    """Item ids as scanned or typed: one per line or separated by spaces or commas."""
    return [t for t in text.replace(",", " ").split() if t]


def _page(request: Request, site: str, done: str = "") -> Response:
    session = session_of(request)
    ops = ops_of(request)
    where = ops.site(session.principal(), site, SITE_ROLES)
    others = [s for s in ops.network.sites if s.code != where.code and s.is_office_of_exchange]
    return page(request, "sites/transfers.html", session, site=where.code,
                site_name=where.name, others=others, done=done)  # fmt: skip


@router.get("")
def transfers_page(request: Request, site: str) -> Response:
    return guarded(request, lambda: _page(request, site))


@router.post("/send")
def send(
    request: Request,
    site: str,
    to_site: str = Form(""),
    item_ids: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        done = transfer_out(ops_of(request), session.principal(), site, to_site, _ids(item_ids))
        return _page(request, site, f"Sent {len(done)} item(s) to {to_site} (EMK).")

    return guarded(request, answer)


@router.post("/received")
def received(
    request: Request, site: str, item_ids: str = Form(""), csrf_token: str = Form("")
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        done = receive(ops_of(request), session.principal(), site, _ids(item_ids))
        return _page(request, site, f"Received {len(done)} item(s) here (EMB): bag them now.")

    return guarded(request, answer)
