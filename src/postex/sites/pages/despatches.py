"""Despatches at a site: compose from the closed bags of a series, close for a flight,
print the CN31/CN38 bill, hand over to the carrier, and (supervisors) take a bag out of a
composed despatch with a reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from postex.sites.app import despatches as dsp
from postex.sites.app.ops import READING_ROLES
from postex.sites.domain.receptacles import MAX_REASON
from postex.sites.pages.common import after_post, ops_of, pdf, supervising
from postex.web.console import changing, guarded, page, session_of

router = APIRouter(prefix="/console/sites/{site}/despatches")


def _typed(text: str) -> str:
    """An airline code or flight number as typed: lower case and spaces are fine."""
    return text.replace(" ", "").strip().upper()


@router.get("")
def despatches_page(request: Request, site: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        ops = ops_of(request)
        p = session.principal()
        where = ops.site(p, site, READING_ROLES)
        rows = dsp.list_despatches(ops, p, site, limit=1000)
        return page(request, "sites/despatches.html", session, site=where.code,
                    site_name=where.name, despatches=list(reversed(rows)),
                    pending=dsp.pending_despatches(ops, p, site),
                    supervising=supervising(session))  # fmt: skip

    return guarded(request, answer)


@router.post("")
def compose(
    request: Request,
    site: str,
    receptacle_ids: list[str] = Form([]),
    csrf_token: str = Form(""),
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        d = dsp.compose(ops_of(request), session.principal(), site, receptacle_ids)
        return after_post(request, f"/console/sites/{d.site}/despatches/{d.id}")

    return guarded(request, answer)


@router.get("/{did}")
def despatch_page(request: Request, site: str, did: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        ops = ops_of(request)
        p = session.principal()
        d = dsp.get_despatch(ops, p, site, did)
        where = ops.site(p, site, READING_ROLES)
        bags = dsp.despatch_receptacles(ops, p, site, did)
        today = ops.ctx.clock.now().date().isoformat()
        return page(request, "sites/despatch.html", session, site=where.code,
                    site_name=where.name, d=d, bags=bags, supervising=supervising(session),
                    today=today, max_reason=MAX_REASON)  # fmt: skip

    return guarded(request, answer)


@dataclass(frozen=True)
class FlightForm:
    """The close and hand-over forms' fields, as typed."""

    carrier: str
    flight: str
    flight_date: str
    departure_time: str
    csrf_token: str


def flight_form(
    carrier: str = Form(""),
    flight: str = Form(""),
    flight_date: str = Form(""),
    departure_time: str = Form(""),
    csrf_token: str = Form(""),
) -> FlightForm:
    return FlightForm(carrier, flight, flight_date, departure_time, csrf_token)


Flight = Annotated[FlightForm, Depends(flight_form)]
Step = Callable[..., object]  # dsp.close_despatch or dsp.hand_over


def _for_flight(request: Request, site: str, did: str, form: FlightForm, step: Step) -> Response:
    """Close or hand over (``step``) for the flight the form names, then back to the page."""

    def answer() -> Response:
        session = changing(request, form.csrf_token)
        flight, day, time = _typed(form.flight), form.flight_date.strip(), form.departure_time
        step(ops_of(request), session.principal(), site, did, _typed(form.carrier), flight, day,
             time.strip())  # fmt: skip
        return after_post(request, f"/console/sites/{site}/despatches/{did}")

    return guarded(request, answer)


@router.post("/{did}/close")
def close(
    request: Request, site: str, did: str, form: FlightForm = Depends(flight_form)
) -> Response:
    return _for_flight(request, site, did, form, dsp.close_despatch)


@router.post("/{did}/handover")
def hand_over(
    request: Request, site: str, did: str, form: FlightForm = Depends(flight_form)
) -> Response:
    return _for_flight(request, site, did, form, dsp.hand_over)


@router.post("/{did}/receptacles/{rid}/remove")
def take_out(
    request: Request,
    site: str,
    did: str,
    rid: str,
    reason: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        dsp.take_out(ops_of(request), session.principal(), site, did, rid, reason)
        return after_post(request, f"/console/sites/{site}/despatches/{did}")

    return guarded(request, answer)


@router.get("/{did}/bill.pdf")
def bill(request: Request, site: str, did: str) -> Response:
    def answer() -> Response:
        session = session_of(request)
        d = dsp.get_despatch(ops_of(request), session.principal(), site, did)
        data = dsp.despatch_bill(ops_of(request), session.principal(), site, did)
        return pdf(data, f"{d.form}-{d.id}.pdf")

    return guarded(request, answer)
