"""Console pages of export holds: the list, placing one with a scope builder (and how many
items it would hold), the two-person confirmation, and staged release.

Every action is the use case the JSON API calls (``incidents.app.holds``): the two-person
rule, supervisors' own site and the release rules are decided there; a page only shows
what a role may do and renders the use case's refusal when it is forced anyway.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from postex.accounts.app.auth import Role
from postex.accounts.app.sessions import Session
from postex.eventlog.chain import format_time
from postex.eventlog.context import Context
from postex.incidents.app.audit_trail import actor_names
from postex.incidents.app.holds import (
    confirm_hold,
    get_hold,
    held_items,
    list_holds,
    place_hold,
    preview_hold,
    release_hold,
)
from postex.incidents.app.policy import HoldRecord, parse_stamp
from postex.incidents.domain import CONFIRM_WINDOW, HoldStatus, network, within_window
from postex.kernel.countries import country_name
from postex.kernel.errors import FieldError, ValidationError
from postex.kernel.reference import services
from postex.web.console import changing, container, guarded, page, session_for

HOLDS = "/console/holds"
router = APIRouter(prefix=HOLDS, include_in_schema=False)


def _ctx(request: Request) -> Context:
    return container(request).ctx


def choices() -> dict[str, list[tuple[str, str]]]:
    """What a scope may name: the network file's sites and routed countries, the services."""
    return {
        "sites": [(s.code, s.name) for s in network().sites],
        "destinations": sorted(
            ((c, country_name(c)) for c in network().countries), key=lambda c: c[1]
        ),
        "services": [(s.code, s.name) for s in services().by_code.values()],
    }


def _scope(sites: list[str], destinations: list[str], svcs: list[str], goods_only: str) -> Any:
    return {"sites": sites, "destinations": destinations, "services": svcs,
            "goods_only": goods_only == "on"}  # fmt: skip


def _may_hold(session: Session) -> bool:
    return session.role in (Role.SUPERVISOR, Role.OPS)


def _view(request: Request, session: Session, hold: HoldRecord, names: dict[str, str]) -> Any:
    """What the templates show of a hold, and which buttons this caller gets."""
    now = _ctx(request).clock.now()
    status = hold.status(now)
    placer = str(hold.placed_by.get("id", ""))
    rr = hold.release_request
    requester = str(rr["requested_by"].get("id", "")) if rr else ""
    deadline = format_time(parse_stamp(hold.placed_at) + CONFIRM_WINDOW)
    ops = session.role is Role.OPS
    in_force = status in (HoldStatus.ACTIVE, HoldStatus.SCHEDULED)
    # A release request not confirmed within the window lapses (the use case refuses it).
    asked = rr is not None and in_force and within_window(parse_stamp(rr["requested_at"]), now)
    return {
        "hold": hold,
        "status": str(status),
        "scope": hold.scope.describe(),
        "placed_by": names.get(placer, placer),
        "confirmed_by": names.get(hold.confirmed_by or "", hold.confirmed_by),
        "waiting": status is HoldStatus.PENDING,
        "deadline": deadline,
        "placed_by_me": placer == session.user_id,
        "may_confirm": ops and status is HoldStatus.PENDING and placer != session.user_id,
        "release_waiting": asked,
        "release_requested_by": names.get(requester, requester),
        "release_requested_by_me": requester == session.user_id,
        "may_confirm_release": ops and asked and requester != session.user_id,
        "release_request": rr,
        "may_release": _may_hold(session)
        and status in (HoldStatus.ACTIVE, HoldStatus.SCHEDULED, HoldStatus.PENDING)
        and not (session.role is Role.SUPERVISOR and hold.scope.sites != (session.site,)),
    }  # fmt: skip


def _names(request: Request, session: Session, holds: list[HoldRecord]) -> dict[str, str]:
    ids = [str(h.placed_by.get("id", "")) for h in holds] + [h.confirmed_by or "" for h in holds]
    ids += [str(h.release_request["requested_by"].get("id", "")) for h in holds
            if h.release_request]  # fmt: skip
    return actor_names(_ctx(request), session.principal(), ids)


def _form(session: Session, values: dict[str, Any] | None = None) -> dict[str, Any]:
    base: dict[str, Any] = {"sites": [session.site] if session.role is Role.SUPERVISOR else [],
                            "destinations": [], "services": [], "goods_only": False,
                            "reason": "", "advisory": "", "customer_facing": True,
                            "emergency": False, "starts_at": ""}  # fmt: skip
    return {**base, **(values or {})}


def _list_page(
    request: Request, session: Session, form: dict[str, Any], errors: list[Any], status: int
) -> Response:
    holds = list_holds(_ctx(request), session.principal())
    names = _names(request, session, holds)
    return page(request, "incidents/holds.html", session, status,
                holds=[_view(request, session, h, names) for h in holds],
                may_hold=_may_hold(session), choices=choices(), form=form, errors=errors,
                supervisor=session.role is Role.SUPERVISOR, ops=session.role is Role.OPS,
                preview=None)  # fmt: skip


@router.get("")
def holds_page(request: Request) -> Response:
    def answer() -> Response:
        session = session_for(request, HOLDS)
        return _list_page(request, session, _form(session), [], 200)

    return guarded(request, answer)


@router.get("/preview")
def preview(request: Request) -> Response:
    """How many items the scope in the form would hold now (htmx, on every change)."""

    def answer() -> Response:
        session = session_for(request, HOLDS)
        q = request.query_params
        scope = _scope(q.getlist("sites"), q.getlist("destinations"), q.getlist("services"),
                       q.get("goods_only", ""))  # fmt: skip
        if session.role is Role.SUPERVISOR:
            scope["sites"] = [session.site]
        try:
            count: int | None = preview_hold(_ctx(request), session.principal(), scope)
            problem = ""
        except ValidationError as exc:
            count, problem = None, "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
        return page(request, "incidents/hold_preview.html", session, count=count,
                    problem=problem)  # fmt: skip

    return guarded(request, answer)


@router.post("")
def place(
    request: Request,
    csrf_token: str = Form(""),
    sites: list[str] = Form([]),
    destinations: list[str] = Form([]),
    services_: list[str] = Form([], alias="services"),
    goods_only: str = Form(""),
    reason: str = Form(""),
    advisory: str = Form(""),
    customer_facing: str = Form(""),
    emergency: str = Form(""),
    starts_at: str = Form(""),
) -> Response:
    """Place the hold; a broken rule shows the form again with every rule named."""

    def answer() -> Response:
        session = changing(request, csrf_token)
        if session.role is Role.SUPERVISOR and not sites:  # the form's one fixed choice
            sites.append(str(session.site))
        payload: dict[str, Any] = {
            "scope": _scope(sites, destinations, services_, goods_only),
            "reason": reason, "advisory": advisory or None,
            "customer_facing": customer_facing == "on", "emergency": emergency == "on",
            "starts_at": starts_at or "now",
        }  # fmt: skip
        try:
            hold = place_hold(_ctx(request), session.principal(), payload)
        except ValidationError as exc:
            form = _form(session, {
                **payload["scope"], "reason": reason, "advisory": advisory,
                "customer_facing": customer_facing == "on", "emergency": emergency == "on",
                "starts_at": starts_at,
            })  # fmt: skip
            return _list_page(request, session, form, exc.errors, 422)
        return RedirectResponse(f"{HOLDS}/{hold.id}", status_code=303)

    return guarded(request, answer)


def _hold_page(request: Request, session: Session, hold_id: str, errors: list[Any],
               status: int = 200, notice: str = "") -> Response:  # fmt: skip
    ctx = _ctx(request)
    hold = get_hold(ctx, session.principal(), hold_id)
    names = _names(request, session, [hold])
    items = held_items(ctx, session.principal(), hold_id=hold.id, limit=200)
    return page(request, "incidents/hold.html", session, status,
                h=_view(request, session, hold, names), items=items, errors=errors,
                notice=notice, choices=choices())  # fmt: skip


@router.get("/{hold_id}")
def hold_page(request: Request, hold_id: str, released: str = "") -> Response:
    def answer() -> Response:
        session = session_for(request, HOLDS)
        if released == "pending":
            notice = "The release waits for a second person to confirm it."
        elif released.isdigit():
            notice = f"{int(released)} items released."
        else:
            notice = ""
        return _hold_page(request, session, hold_id, [], notice=notice)

    return guarded(request, answer)


@router.post("/{hold_id}/confirm")
def confirm(request: Request, hold_id: str, csrf_token: str = Form("")) -> Response:
    """The second person confirms the hold, or its release (the use case says which)."""

    def answer() -> Response:
        session = changing(request, csrf_token)
        confirm_hold(_ctx(request), session.principal(), hold_id)
        return RedirectResponse(f"{HOLDS}/{hold_id}", status_code=303)

    return guarded(request, answer)


@router.post("/{hold_id}/release")
def release(
    request: Request,
    hold_id: str,
    csrf_token: str = Form(""),
    what: str = Form("all"),
    items: str = Form(""),
    services_: list[str] = Form([], alias="services"),
    reason: str = Form(""),
) -> Response:
    """Release everything (the hold ends), or a stage: some services, or listed items."""

    def answer() -> Response:
        session = changing(request, csrf_token)
        payload: dict[str, Any] = {"reason": reason}
        if what == "items":
            payload["items"] = [i for i in items.replace(",", " ").split() if i]
        elif what == "services":
            if not services_:  # nothing ticked must not mean "everything"
                missing = FieldError("services", "required", [], "tick at least one service")
                return _hold_page(request, session, hold_id, [missing], 422)
            payload["services"] = services_
        try:
            outcome = release_hold(_ctx(request), session.principal(), hold_id, payload)
        except ValidationError as exc:
            return _hold_page(request, session, hold_id, exc.errors, 422)
        done = "pending" if outcome.pending else str(len(outcome.released))
        return RedirectResponse(f"{HOLDS}/{hold_id}?released={done}", status_code=303)

    return guarded(request, answer)
