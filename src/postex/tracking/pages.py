"""The public pages: ``/`` (a tracking box and the service status at a glance) and
``/track/{id}`` (an item's headline and journey).

A tracking number may be typed as people type it: small letters and spaces are fine, and
the page moves to the number's canonical address. A malformed number is answered in plain
words (a wrong check digit says which digit it should be). Times are shown in the place's
local time with its zone, and — by a small script — in the reader's own. An item an export
hold keeps shows the hold's public advisory. No personal data is ever on these pages: they
are drawn from the same non-personal view as ``GET /api/v1/tracking/{id}``, with the same
ETag, caching and rate limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from postex.http.deps import container
from postex.http.limits import public_rate_limit
from postex.http.problems import status_for
from postex.incidents.app.advisories import list_advisories
from postex.kernel.countries import country_name
from postex.kernel.errors import NotFoundError, PostexError, ValidationError
from postex.kernel.event_codes import Status
from postex.kernel.ids import S10, s10_check_digit
from postex.kernel.reference import services
from postex.tracking.app.public import TrackingView, tracking_view
from postex.tracking.http.tracking import cached
from postex.web.templating import SECURITY_HEADERS, environment, render

router = APIRouter(tags=["web"])
TONES = {
    Status.DELIVERED: "good",
    Status.HELD_BY_CUSTOMS: "waiting",
    Status.DELIVERY_ATTEMPTED: "waiting",
    Status.RETURNED: "bad",
    Status.EXCEPTION: "bad",
}


def typed_id(text: str) -> str:
    """A tracking number as a person types it: spaces gone, letters upper case."""
    return "".join(text.split()).upper()


def plain_words(typed: str, exc: ValidationError) -> str:
    """Why ``typed`` is not a tracking number, for someone holding a receipt."""
    rule = exc.errors[0].rule if exc.errors else ""
    if rule == "length":
        return (f"A tracking number has 13 characters; “{typed[:40]}” has {len(typed)}. "
                "Check the number on your receipt or label.")  # fmt: skip
    if rule == "check_digit":
        serial = typed[2:10]
        right = s10_check_digit(int(serial))
        return (f"{typed} is not a valid tracking number: its check digit (the 11th character, "
                f"{typed[10]}) should be {right} for the digits {serial}. One character is "
                "probably mistyped: check the number on your receipt or label.")  # fmt: skip
    why = exc.errors[0].message if exc.errors else exc.detail
    return (f"“{typed[:40]}” is not a tracking number: {why}. A tracking number looks like "
            "LA 100 000 003 GB.")  # fmt: skip


def _problem(request: Request, status: int, title: str, detail: str, typed: str) -> Response:
    error = detail if status == 422 else ""
    return render(request, "tracking/problem.html",
                  {"title": title, "detail": detail, "typed": typed[:40], "error": error},
                  status)  # fmt: skip


def _answer_error(request: Request, exc: PostexError, typed: str) -> Response:
    status = status_for(exc)
    if isinstance(exc, ValidationError):
        return _problem(request, 422, "That is not a tracking number", plain_words(typed, exc),
                        typed)  # fmt: skip
    if isinstance(exc, NotFoundError):
        detail = (f"We have no item {typed}. If it was posted in the last few hours, try again "
                  "later; otherwise check the number on your receipt.")  # fmt: skip
        return _problem(request, 404, "No such item", detail, typed)
    return _problem(request, status, exc.title, "Please try again in a moment.", typed)


def _event_rows(view: TrackingView) -> list[dict[str, Any]]:
    rows = []
    for e in reversed(view.tracking.events):  # newest first; the list is in true time order
        when = datetime.fromisoformat(e.time)
        rows.append({"description": e.description, "place": e.place, "time": e.time,
                     "shown": f"{when.day} {when:%b %Y, %H:%M}", "zone": e.zone()})  # fmt: skip
    return rows


def _page_bytes(request: Request, view: TrackingView) -> bytes:
    tone = "waiting" if view.advisory else TONES.get(Status(view.tracking.status), "")
    context = {"view": view, "t": view.tracking, "events": _event_rows(view), "tone": tone,
               "typed": "", "error": "", "request": request}  # fmt: skip
    return environment().get_template("tracking/track.html").render(**context).encode()


@router.get("/", include_in_schema=False)
def landing(request: Request) -> Response:
    ctx = container(request).ctx
    now = ctx.clock.now()
    affected = []
    for a in list_advisories(ctx):
        if a.status(now) != "active":
            continue
        where = ", ".join(country_name(c) for c in a.scope.destinations) or "all destinations"
        what = ", ".join(services().get(s).name for s in a.scope.services) or "All services"
        affected.append(f"{what} to {where}: {a.text}")
    return render(request, "tracking/landing.html",
                  {"affected": affected, "typed": "", "error": ""})  # fmt: skip


@router.get("/track", include_in_schema=False, dependencies=[Depends(public_rate_limit)])
def track_search(request: Request, id: str = Query("", max_length=80)) -> Response:
    typed = typed_id(id)
    try:
        S10.parse(typed)
    except ValidationError as exc:
        return _answer_error(request, exc, typed)
    return RedirectResponse(f"/track/{typed}", status_code=303)


@router.get(
    "/track/{item_id}",
    response_class=Response,
    summary="Public tracking page (HTML)",
    responses={200: {"description": "The tracking page", "content": {"text/html": {}}}},
    dependencies=[Depends(public_rate_limit)],
)
def track_page(request: Request, item_id: str = Path(max_length=40)) -> Response:
    typed = typed_id(item_id)
    if typed != item_id:
        return RedirectResponse(f"/track/{typed}", status_code=308)
    try:
        view = tracking_view(container(request).ctx, typed)
    except PostexError as exc:
        return _answer_error(request, exc, typed)
    response = cached(request, _page_bytes(request, view), "text/html; charset=utf-8")
    response.headers.update({k: v for k, v in SECURITY_HEADERS.items() if k != "Cache-Control"})
    return response
