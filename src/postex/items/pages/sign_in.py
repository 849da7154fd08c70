"""Portal sign-in, its TOTP step, enrolling a second factor, sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from postex.accounts.app import portal_users, sessions, totp
from postex.accounts.app.sessions import Stage
from postex.kernel.errors import RateLimitedError, UnauthenticatedError, ValidationError
from postex.web.console import authenticator_qr, client_ip, console
from postex.web.portal import (
    CODE,
    COOKIE,
    PATH,
    SIGN_IN,
    changing,
    guarded,
    page,
    session_of,
    set_cookie,
    set_sign_in_cookie,
    sign_in_token,
    sign_in_token_right,
)

router = APIRouter(prefix=PATH)
HOME = "/portal/items"


def _go(request: Request, token: str, stage: Stage) -> Response:
    response = RedirectResponse(CODE if stage is Stage.TOTP else HOME, status_code=303)
    set_cookie(request, response, token)
    return response


@router.get("")
def home(request: Request) -> Response:
    def answer() -> Response:
        session_of(request)
        return RedirectResponse(HOME, status_code=303)

    return guarded(request, answer)


def _form(request: Request, status: int = 200, error: str = "", username: str = "") -> Response:
    token = sign_in_token(request)
    response = page(request, "items/sign_in.html", None, status, error=error,
                    username=username[:40], form_token=token)  # fmt: skip
    set_sign_in_cookie(request, response, token)
    return response


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    return _form(request)


@router.post("/sign-in")
def sign_in(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """Check the password; a right one opens a new session (never the caller's old one).
    A form without this browser's sign-in token is 403 and checks nothing."""
    if not sign_in_token_right(request, csrf_token):
        return _form(request, 403, "the form is stale or forged: sign in again", username)
    try:
        opened = portal_users.sign_in_customer(
            console(request), username, password, client_ip(request)
        )
    except (UnauthenticatedError, RateLimitedError) as exc:
        status = 429 if isinstance(exc, RateLimitedError) else 401
        return _form(request, status, exc.detail, username)
    return _go(request, opened.token, opened.session.stage)


@router.get("/sign-in/code")
def code_page(request: Request) -> Response:
    def answer() -> Response:
        session = session_of(request, stage=Stage.TOTP)
        return page(request, "items/code.html", session, error="")

    return guarded(request, answer)


@router.post("/sign-in/code")
def code(request: Request, code: str = Form(""), csrf_token: str = Form("")) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token, stage=Stage.TOTP)
        try:
            opened = totp.second_factor(console(request), session, code)
        except UnauthenticatedError as exc:
            return page(request, "items/code.html", session, 401, error=exc.detail)
        return _go(request, opened.token, Stage.SIGNED_IN)

    return guarded(request, answer)


def _enrol_page(request: Request, session: sessions.Session, error: str, status: int) -> Response:
    secret = session.pending_totp if error and session.pending_totp else None
    secret = secret or totp.start_enrolment(console(request), session)
    return page(request, "items/enrol.html", session, status, secret=secret,
                qr_svg=authenticator_qr(secret, session.username), error=error)  # fmt: skip


@router.get("/totp/enrol")
def enrol_page(request: Request) -> Response:
    return guarded(request, lambda: _enrol_page(request, session_of(request), "", 200))


@router.post("/totp/enrol")
def enrol(request: Request, code: str = Form(""), csrf_token: str = Form("")) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        try:
            opened, codes = totp.confirm_enrolment(console(request), session, code)
        except ValidationError as exc:
            return _enrol_page(request, session, exc.detail, 422)
        response = page(request, "items/recovery.html", opened.session, codes=codes)
        set_cookie(request, response, opened.token)
        return response

    return guarded(request, answer)


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: str = Form("")) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        sessions.sign_out(console(request), session)
        response = RedirectResponse(SIGN_IN, status_code=303)
        response.delete_cookie(COOKIE, path=PATH)
        return response

    return guarded(request, answer)
