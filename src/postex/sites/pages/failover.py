"""The console page of failovers, for operations leads: ask to fail a lost site over to a
survivor, confirm another lead's request (the two-person rule), fail a site back, and see
what moved and which receptacles were abandoned.

Every action is the use case the JSON API calls (``sites.app.failover``): the two-person
rule and every other rule are decided there; the page shows only the buttons a role may
use and renders the use case's refusal when a form is forced anyway.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from postex.accounts.app.auth import Role
from postex.accounts.app.sessions import Session
from postex.incidents.app.audit_trail import actor_names
from postex.kernel.errors import ConflictError, ValidationError
from postex.sites.app.failover import (
    abandoned_receptacles,
    confirm,
    list_failovers,
    request_failback,
    request_failover,
)
from postex.sites.app.ops import SiteOps
from postex.sites.domain.failover import RequestStatus
from postex.web.console import changing, container, guarded, page, session_for

FAILOVERS = "/console/failovers"
router = APIRouter(prefix=FAILOVERS, include_in_schema=False)


def _ops(request: Request) -> SiteOps:
    return container(request).site_ops


def _page(request: Request, session: Session, errors: list[Any], status: int = 200,
          form: dict[str, str] | None = None) -> Response:  # fmt: skip
    ops = _ops(request)
    p = session.principal()
    now = ops.ctx.clock.now()
    records = list_failovers(ops, p)
    ids = [str(x.get("id", "")) for r in records for x in (r.requested_by, r.confirmed_by or {})]
    names = actor_names(ops.ctx, p, ids)
    rows = []
    for r in records:
        state = r.status(now)
        asker, confirmer = r.requested_by.get("id", ""), (r.confirmed_by or {}).get("id", "")
        rows.append({
            "r": r, "status": str(state),
            "requested_by": names.get(asker, asker),
            "confirmed_by": names.get(confirmer, confirmer),
            "may_confirm": session.role is Role.OPS and state is RequestStatus.PENDING
            and r.requested_by.get("id") != session.user_id,
            "mine": r.requested_by.get("id") == session.user_id,
        })  # fmt: skip
    active = [x for x in rows if x["status"] == RequestStatus.ACTIVE]
    sites = [(s.code, s.name, s.is_office_of_exchange) for s in ops.plan.sites]
    return page(request, "sites/failovers.html", session, status, rows=rows, active=active,
                lead=session.role is Role.OPS, sites=sites, errors=errors,
                form=form or {"from_site": "", "to_site": "", "reason": ""},
                abandoned=abandoned_receptacles(ops, p))  # fmt: skip


@router.get("")
def failovers_page(request: Request) -> Response:
    def answer() -> Response:
        return _page(request, session_for(request, FAILOVERS), [])

    return guarded(request, answer)


def _refused(exc: ValidationError | ConflictError) -> list[Any]:
    if isinstance(exc, ValidationError):
        return list(exc.errors)
    return [{"field": exc.extra.get("field", ""), "message": exc.detail}]


@router.post("")
def ask(
    request: Request,
    csrf_token: str = Form(""),
    from_site: str = Form(""),
    to_site: str = Form(""),
    reason: str = Form(""),
) -> Response:
    """Ask for a failover; a broken rule shows the form again with every rule named."""

    def answer() -> Response:
        session = changing(request, csrf_token)
        payload = {"from_site": from_site, "to_site": to_site, "reason": reason}
        try:
            request_failover(_ops(request), session.principal(), payload)
        except (ValidationError, ConflictError) as exc:
            return _page(request, session, _refused(exc), 422, payload)
        return RedirectResponse(FAILOVERS, status_code=303)

    return guarded(request, answer)


@router.post("/failback")
def ask_failback(
    request: Request, csrf_token: str = Form(""), site: str = Form(""), reason: str = Form("")
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        try:
            request_failback(_ops(request), session.principal(), {"site": site, "reason": reason})
        except (ValidationError, ConflictError) as exc:
            return _page(request, session, _refused(exc), 422)
        return RedirectResponse(FAILOVERS, status_code=303)

    return guarded(request, answer)


@router.post("/{request_id}/confirm")
def confirm_request(request: Request, request_id: str, csrf_token: str = Form("")) -> Response:
    """The second operations lead confirms a failover or a failback."""

    def answer() -> Response:
        session = changing(request, csrf_token)
        confirm(_ops(request), session.principal(), request_id)
        return RedirectResponse(FAILOVERS, status_code=303)

    return guarded(request, answer)
