"""The sender portal's shell: the console's sessions and CSRF, under ``/portal``.

A portal session lives in the console's session store (``web.console``) and is only
usable here when it belongs to a customer user; a staff session is never a portal one,
nor the other way round. The cookie ``postex_portal`` has path ``/portal`` (HttpOnly,
SameSite=Strict, Secure over https). Errors are the API's, as pages in the portal layout;
another customer's item is the same 404 page as a missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from postex.accounts.app.auth import Principal
from postex.accounts.app.sessions import (
    Session,
    Stage,
    check_csrf,
    check_sign_in_form,
    current,
    sign_in_form_token,
)
from postex.http.problems import status_for
from postex.kernel.errors import ForbiddenError, PostexError, UnauthenticatedError
from postex.web.console import NavLink, console
from postex.web.templating import render

COOKIE = "postex_portal"
SIGN_IN_COOKIE = "postex_portal_sign_in"  # the sign-in form's token, before any session
PATH = "/portal"
SIGN_IN = "/portal/sign-in"
CODE = "/portal/sign-in/code"
NAV = (
    NavLink("Items", "/portal/items"),
    NavLink("New item", "/portal/items/new"),
    NavLink("Manifests", "/portal/manifests"),
    NavLink("Labels", "/portal/labels"),
    NavLink("Collection", "/portal/collection"),
    NavLink("API keys", "/portal/api-keys"),
    NavLink("Webhooks", "/portal/webhooks"),
    NavLink("Second factor", "/portal/totp/enrol"),
)


class UnfinishedPortalSignInError(UnauthenticatedError):
    """The password was right; the TOTP code is still to come."""


def session_of(request: Request, *, stage: Stage = Stage.SIGNED_IN) -> Session:
    """The caller's live portal session at ``stage``; UnauthenticatedError otherwise (a
    staff session is no portal session)."""
    session = current(console(request), request.cookies.get(COOKIE))
    if session.customer_id is None:
        raise UnauthenticatedError("sign in first")
    if session.stage is not stage:
        if session.stage is Stage.SIGNED_IN:
            raise UnauthenticatedError("you are signed in already")
        raise UnfinishedPortalSignInError("finish signing in first")
    return session


def changing(request: Request, sent: str | None, *, stage: Stage = Stage.SIGNED_IN) -> Session:
    """The session of a state-changing request whose CSRF token is right (ForbiddenError
    otherwise, before anything is written)."""
    session = session_of(request, stage=stage)
    if not check_csrf(session, sent or request.headers.get("X-CSRF-Token")):
        raise ForbiddenError("the form is stale or forged: reload the page", rule="csrf")
    return session


def customer_of(session: Session) -> str:
    """The customer a portal session acts for (every query is scoped to it)."""
    assert session.customer_id is not None
    return session.customer_id


def principal_of(session: Session) -> Principal:
    return session.principal()


def page(
    request: Request, template: str, session: Session | None, status: int = 200, **context: Any
) -> Response:
    """A portal page in the portal layout, with its navigation and the CSRF token."""
    signed_in = session is not None and session.stage is Stage.SIGNED_IN
    base = {"session": session, "nav": list(NAV) if signed_in else [],
            "csrf": session.csrf if session else "", "here": request.url.path}  # fmt: skip
    return render(request, template, {**base, **context}, status)


def sign_in_token(request: Request) -> str:
    """The sign-in form's CSRF token, the console's kind (``sessions.sign_in_form_token``:
    signed by this node, 12 hours at most): the browser's own while still valid (a second
    tab's form still works), a new one otherwise. It is set as a cookie only this site's
    pages send (SameSite=Strict), so a form posted from another site lacks it and nobody
    can sign a visitor in to an account of theirs."""
    kept = request.cookies.get(SIGN_IN_COOKIE)
    if kept and check_sign_in_form(console(request), kept, kept):
        return kept
    return sign_in_form_token(console(request))


def sign_in_token_right(request: Request, sent: str) -> bool:
    """Whether the form sent back its own cookie's token, valid and unexpired."""
    return check_sign_in_form(console(request), request.cookies.get(SIGN_IN_COOKIE), sent)


def set_sign_in_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SIGN_IN_COOKIE, token, httponly=True, samesite="strict", path=f"{PATH}/sign-in",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def set_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", path=PATH,
        secure=request.url.scheme == "https",
    )  # fmt: skip


def to_sign_in(request: Request, where: str = SIGN_IN) -> Response:
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": where})
    return RedirectResponse(where, status_code=303)


def error_page(request: Request, exc: PostexError) -> Response:
    """The error as a page; with the portal's navigation when the caller is signed in."""
    status = status_for(exc)
    detail = exc.detail if status < 500 else "something went wrong on our side"
    try:
        session: Session | None = session_of(request)
    except PostexError:
        session = None
    return page(request, "web/portal_error.html", session, status, code=status,
                title=exc.title, detail=detail)  # fmt: skip


def guarded(request: Request, answer: Callable[[], Response]) -> Response:
    """``answer()``, or the portal page for the PostexError it raised (the sign-in page,
    or its code step, when unauthenticated)."""
    try:
        return answer()
    except UnfinishedPortalSignInError:
        return to_sign_in(request, CODE)
    except UnauthenticatedError:
        return to_sign_in(request)
    except PostexError as exc:
        return error_page(request, exc)
