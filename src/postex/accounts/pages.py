"""Console pages of accounts: sign-in, the second factor, its enrolment, sign-out.

Every page calls the app layer (``accounts.app.sessions`` and ``totp``); nothing here
decides who may sign in. Pages are not part of the API: they stay out of OpenAPI.
"""

from __future__ import annotations

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from postex.accounts.app import sessions, totp
from postex.accounts.app.auth import Role
from postex.accounts.app.sessions import Stage
from postex.kernel.errors import RateLimitedError, UnauthenticatedError, ValidationError
from postex.web.console import (
    COOKIE,
    NEXT,
    changing,
    client_ip,
    console,
    guarded,
    home_site,
    page,
    session_of,
    set_cookie,
)

router = APIRouter(prefix="/console", include_in_schema=False)


def _go(request: Request, token: str, stage: Stage) -> Response:
    response = RedirectResponse(NEXT[stage], status_code=303)
    set_cookie(request, response, token)
    return response


@router.get("")
def home(request: Request) -> Response:
    def answer() -> Response:
        session = session_of(request)
        if session.role is not Role.AUDITOR:
            site = home_site(request, session)
            return RedirectResponse(f"/console/sites/{site}/accept", status_code=303)
        return page(request, "accounts/home.html", session)

    return guarded(request, answer)


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    return page(request, "accounts/sign_in.html", None, error="", username="")


@router.post("/sign-in")
def sign_in(request: Request, username: str = Form(""), password: str = Form("")) -> Response:
    """Check the password; a right one opens a new session (never the caller's old one)."""
    try:
        opened = sessions.sign_in(console(request), username, password, client_ip(request))
    except (UnauthenticatedError, RateLimitedError) as exc:
        status = 429 if isinstance(exc, RateLimitedError) else 401
        return page(request, "accounts/sign_in.html", None, status,
                    error=exc.detail, username=username[:40])  # fmt: skip
    return _go(request, opened.token, opened.session.stage)


@router.get("/sign-in/code")
def code_page(request: Request) -> Response:
    def answer() -> Response:
        session = session_of(request, stage=Stage.TOTP)
        return page(request, "accounts/code.html", session, error="")

    return guarded(request, answer)


@router.post("/sign-in/code")
def code(request: Request, code: str = Form(""), csrf_token: str = Form("")) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token, stage=Stage.TOTP)
        try:
            opened = totp.second_factor(console(request), session, code)
        except UnauthenticatedError as exc:
            return page(request, "accounts/code.html", session, 401, error=exc.detail)
        return _go(request, opened.token, Stage.SIGNED_IN)

    return guarded(request, answer)


def _enrolling(request: Request) -> sessions.Session:
    try:
        return session_of(request, stage=Stage.ENROL)
    except UnauthenticatedError:
        return session_of(request)


def _enrol_page(request: Request, session: sessions.Session, error: str, status: int) -> Response:
    # A wrong first code keeps the key already scanned; a fresh page draws a new one.
    secret = session.pending_totp if error and session.pending_totp else None
    secret = secret or totp.start_enrolment(console(request), session)
    uri = totp.provisioning_uri(secret, session.username)
    svg = segno.make(uri, error="m").svg_inline(omitsize=True, title="Authenticator key")
    return page(request, "accounts/enrol.html", session, status, secret=secret,
                qr_svg=Markup(svg), error=error,  # noqa: S704 - segno's own SVG, no user text
                required=session.stage is Stage.ENROL)  # fmt: skip


@router.get("/totp/enrol")
def enrol_page(request: Request) -> Response:
    return guarded(request, lambda: _enrol_page(request, _enrolling(request), "", 200))


@router.post("/totp/enrol")
def enrol(request: Request, code: str = Form(""), csrf_token: str = Form("")) -> Response:
    def answer() -> Response:
        stage = _enrolling(request).stage
        session = changing(request, csrf_token, stage=stage)
        try:
            opened, codes = totp.confirm_enrolment(console(request), session, code)
        except ValidationError as exc:
            return _enrol_page(request, session, exc.detail, 422)
        response = page(request, "accounts/recovery.html", opened.session, codes=codes)
        set_cookie(request, response, opened.token)
        return response

    return guarded(request, answer)


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: str = Form("")) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        sessions.sign_out(console(request), session)
        response = RedirectResponse("/console/sign-in", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response

    return guarded(request, answer)
