"""Console pages of accounts: sign-in, the second factor, its enrolment, sign-out, and the
admin's users pages (list, disable, enable, end sessions).

Every page calls the app layer (``accounts.app.sessions``, ``totp`` and ``staff_admin``);
nothing here decides who may sign in or who may administer. Pages are not part of the API:
they stay out of OpenAPI.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from postex.accounts.app import sessions, staff_admin, totp
from postex.accounts.app.auth import Principal, Role
from postex.accounts.app.sessions import Stage
from postex.kernel.errors import (
    ForbiddenError,
    RateLimitedError,
    UnauthenticatedError,
    ValidationError,
)
from postex.web.console import (
    COOKIE,
    NEXT,
    authenticator_qr,
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
FORM_COOKIE = "postex_sign_in"  # the sign-in form's CSRF token (a signed double submit)


def _go(request: Request, token: str, stage: Stage) -> Response:
    response = RedirectResponse(NEXT[stage], status_code=303)
    set_cookie(request, response, token)
    return response


@router.get("")
def home(request: Request) -> Response:
    def answer() -> Response:
        session = session_of(request)
        if session.role is Role.ADMIN:
            return RedirectResponse("/console/users", status_code=303)
        if session.role is not Role.AUDITOR:
            site = home_site(request, session)
            return RedirectResponse(f"/console/sites/{site}/accept", status_code=303)
        return page(request, "accounts/home.html", session)

    return guarded(request, answer)


def _sign_in_page(
    request: Request, token: str, status: int = 200, error: str = "", username: str = ""
) -> Response:
    response = page(request, "accounts/sign_in.html", None, status, error=error,
                    username=username, form_token=token)  # fmt: skip
    response.set_cookie(FORM_COOKIE, token, httponly=True, samesite="strict", path="/console",
                        secure=request.url.scheme == "https")  # fmt: skip
    return response


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    # Keep a valid token (a second tab's form still works); draw a new one otherwise.
    cookie = request.cookies.get(FORM_COOKIE)
    if not sessions.check_sign_in_form(console(request), cookie, cookie):
        cookie = sessions.sign_in_form_token(console(request))
    assert cookie is not None
    return _sign_in_page(request, cookie)


@router.post("/sign-in")
def sign_in(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """Check the password; a right one opens a new session (never the caller's old one).

    The form must send back the token its page set as a cookie: a forged sign-in (someone
    else's page signing this browser in as them) is 403 before any check or count."""

    def answer() -> Response:
        cookie = request.cookies.get(FORM_COOKIE)
        if not sessions.check_sign_in_form(console(request), cookie, csrf_token):
            raise ForbiddenError("the form is stale or forged: reload the page", rule="csrf")
        assert cookie is not None
        try:
            opened = sessions.sign_in(console(request), username, password, client_ip(request))
        except (UnauthenticatedError, RateLimitedError) as exc:
            status = 429 if isinstance(exc, RateLimitedError) else 401
            return _sign_in_page(request, cookie, status, exc.detail, username[:40])
        response = _go(request, opened.token, opened.session.stage)
        response.delete_cookie(FORM_COOKIE, path="/console")
        return response

    return guarded(request, answer)


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
    replacing = session.stage is Stage.SIGNED_IN and totp.is_enrolled(
        console(request), session.user_id
    )
    return page(request, "accounts/enrol.html", session, status, secret=secret,
                qr_svg=authenticator_qr(secret, session.username), error=error,
                required=session.stage is Stage.ENROL, replacing=replacing)  # fmt: skip


@router.get("/totp/enrol")
def enrol_page(request: Request) -> Response:
    return guarded(request, lambda: _enrol_page(request, _enrolling(request), "", 200))


@router.post("/totp/enrol")
def enrol(
    request: Request, code: str = Form(""), current: str = Form(""), csrf_token: str = Form("")
) -> Response:
    def answer() -> Response:
        stage = _enrolling(request).stage
        session = changing(request, csrf_token, stage=stage)
        try:
            opened, codes = totp.confirm_enrolment(console(request), session, code, current)
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


# --- users (admins) -------------------------------------------------------------------------
NOTICES = {
    "disabled": "Disabled; their sessions have ended.",
    "enabled": "Enabled again. They sign in afresh.",
    "ended": "Sessions ended.",
}


def _user_page(
    request: Request, username: str, status: int = 200, error: str = "", notice: str = ""
) -> Response:
    session = session_of(request)
    admin = session.principal()
    user = staff_admin.find_user(console(request), admin, username)
    found = staff_admin.user_sessions(console(request), admin, username)
    return page(request, "accounts/user.html", session, status, user=user, sessions=found,
                error=error, notice=NOTICES.get(notice, ""),
                own=user.id == session.user_id)  # fmt: skip


@router.get("/users")
def users_page(request: Request) -> Response:
    def answer() -> Response:
        session = session_of(request)
        users = staff_admin.list_users(console(request), session.principal())
        return page(request, "accounts/users.html", session, users=users)

    return guarded(request, answer)


@router.get("/users/{username}")
def user_page(request: Request, username: str, done: str = "") -> Response:
    return guarded(request, lambda: _user_page(request, username, notice=done))


def _user_change(
    request: Request, username: str, csrf_token: str, done: str, act: Callable[[Principal], None]
) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        try:
            act(session.principal())
        except ValidationError as exc:
            return _user_page(request, username, 422, exc.detail)
        where = f"/console/users/{quote(username.strip().lower(), safe='')}?done={done}"
        return RedirectResponse(where, status_code=303)

    return guarded(request, answer)


@router.post("/users/{username}/disable")
def disable(
    request: Request, username: str, reason: str = Form(""), csrf_token: str = Form("")
) -> Response:
    """Disable a user: their sessions end now and their API tokens stop working."""

    def act(admin: Principal) -> None:
        staff_admin.disable_user(console(request), admin, username, reason)

    return _user_change(request, username, csrf_token, "disabled", act)


@router.post("/users/{username}/enable")
def enable(
    request: Request, username: str, reason: str = Form(""), csrf_token: str = Form("")
) -> Response:

    def act(admin: Principal) -> None:
        staff_admin.enable_user(console(request), admin, username, reason)

    return _user_change(request, username, csrf_token, "enabled", act)


@router.post("/users/{username}/sessions/end")
def end_sessions(
    request: Request,
    username: str,
    reason: str = Form(""),
    session: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """End one of a user's sessions (``session``: its handle) or all of them."""

    def act(admin: Principal) -> None:
        staff_admin.end_sessions(console(request), admin, username, reason, session)

    return _user_change(request, username, csrf_token, "ended", act)
