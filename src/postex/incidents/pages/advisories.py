"""Console page of advisories: what customers are told, updates and resolving, with a live
preview of the public ``/status`` page drawn by the very code that draws that page.

An advisory is published by placing a customer-facing hold (the holds page); here ops add
updates and resolve it (``incidents.app.advisories``). Auditors see the list only.
"""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from postex.accounts.app.auth import Role
from postex.eventlog.chain import format_time
from postex.incidents.app.advisories import (
    RESOLVED_TEXT,
    AdvisoryRecord,
    AdvisoryUpdate,
    add_update,
    list_advisories,
    resolve_advisory,
)
from postex.incidents.domain import parse_scope
from postex.incidents.pages.holds import HOLDS
from postex.incidents.pages.status import status_body
from postex.kernel.errors import ValidationError
from postex.web.console import changing, container, guarded, page, session_for

ADVISORIES = "/console/advisories"
router = APIRouter(prefix=ADVISORIES, include_in_schema=False)


def _status_html(rows: list[AdvisoryRecord], request: Request) -> Markup:
    now = container(request).ctx.clock.now()
    return Markup(status_body(rows, [a.status(now) for a in rows]))  # noqa: S704 - escaped there


@router.get("")
def advisories_page(request: Request) -> Response:
    def answer() -> Response:
        session = session_for(request, ADVISORIES)
        ctx = container(request).ctx
        rows = list_advisories(ctx)
        now = ctx.clock.now()
        return page(request, "incidents/advisories.html", session,
                    advisories=[(a, a.status(now)) for a in rows],
                    ops=session.role is Role.OPS, preview=_status_html(rows, request),
                    resolved_text=RESOLVED_TEXT)  # fmt: skip

    return guarded(request, answer)


def _new(request: Request, words: str, at: str) -> AdvisoryRecord:
    """The advisory a hold being placed would publish (scope from the hold form)."""
    q = request.query_params
    scope = parse_scope({"sites": q.getlist("sites"), "destinations": q.getlist("destinations"),
                         "services": q.getlist("services"),
                         "goods_only": q.get("goods_only") == "on"})  # fmt: skip
    return AdvisoryRecord("adv_preview", "", words, scope, at, at, None)


@router.get("/preview")
def preview(
    request: Request, advisory_id: str = "", text: str = "", mode: str = "update"
) -> Response:
    """The status page as it would read with this update, resolution or (``mode=new``,
    from the holds form) new advisory; nothing written."""

    def answer() -> Response:
        session_for(request, HOLDS if mode == "new" else ADVISORIES)
        ctx = container(request).ctx
        at = format_time(ctx.clock.now())
        typed = request.query_params.get("advisory", text) if mode == "new" else text
        words = typed.strip()[:2000]  # the holds form calls its field "advisory"
        rows = []
        if mode == "new" and words:
            try:
                rows.append(_new(request, words, at))
            except ValidationError as exc:
                problem = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
                return page(request, "incidents/hold_preview.html", None, count=None,
                            problem=problem)  # fmt: skip
        for a in list_advisories(ctx):
            if a.id == advisory_id and a.closed_at is None and words:
                rows.append(dataclasses.replace(
                    a, updates=(*a.updates, AdvisoryUpdate(at, words)),
                    closed_at=at if mode == "resolve" else None,
                ))  # fmt: skip
            else:
                rows.append(a)
        return page(request, "incidents/status_preview.html", None,
                    preview=_status_html(rows, request))  # fmt: skip

    return guarded(request, answer)


@router.post("/{advisory_id}/updates")
def update(
    request: Request, advisory_id: str, csrf_token: str = Form(""), text: str = Form("")
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        add_update(container(request).ctx, session.principal(), advisory_id, text)
        return RedirectResponse(f"{ADVISORIES}#edit-{advisory_id}", status_code=303)

    return guarded(request, answer)


@router.post("/{advisory_id}/resolve")
def resolve(
    request: Request, advisory_id: str, csrf_token: str = Form(""), text: str = Form("")
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        resolve_advisory(container(request).ctx, session.principal(), advisory_id, text)
        return RedirectResponse(f"{ADVISORIES}#edit-{advisory_id}", status_code=303)

    return guarded(request, answer)
