"""The console shell every staff page shares: the session cookie, CSRF, the navigation by
role, and errors answered as pages.

The cookie holds only a random session id: HttpOnly, SameSite=Strict, Secure when the
request came over https, path ``/console``. Every state-changing request must send the
session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``); a missing or
wrong one is 403 and nothing is written. Errors come from the same PostexError tree as the
API's problem+json, with the same status codes (``status_for``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import segno
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from postex.accounts.app.auth import Role
from postex.accounts.app.sessions import Console, Session, Stage, check_csrf, current
from postex.accounts.app.totp import provisioning_uri
from postex.bootstrap import Container
from postex.http.observe import set_caller
from postex.http.problems import status_for
from postex.kernel.errors import (
    ForbiddenError,
    PostexError,
    UnauthenticatedError,
    ValidationError,
)
from postex.web.templating import render

COOKIE = "postex_console"
SIGN_IN = "/console/sign-in"
NEXT = {Stage.TOTP: "/console/sign-in/code", Stage.ENROL: "/console/totp/enrol",
        Stage.SIGNED_IN: "/console"}  # fmt: skip


class UnfinishedSignInError(UnauthenticatedError):
    """The password was right but the sign-in has a step left (a code, an enrolment)."""

    def __init__(self, stage: Stage) -> None:
        super().__init__("finish signing in first")
        self.where = NEXT[stage]


@dataclass(frozen=True)
class NavLink:
    label: str
    href: str


def container(request: Request) -> Container:
    return cast(Container, request.app.state.container)


def console(request: Request) -> Console:
    return container(request).console


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def home_site(request: Request, session: Session) -> str:
    """The site a user works at: their own, or this node's for network roles."""
    return session.site or container(request).settings.site


SITE_PAGES = (("Acceptance", "accept"), ("Bags", "bags"), ("Despatches", "despatches"),
              ("Held items", "held"), ("Transfers", "transfers"))  # fmt: skip
NETWORK_PAGES = (
    ("Holds", "/console/holds", (Role.SUPERVISOR, Role.OPS, Role.AUDITOR)),
    ("Advisories", "/console/advisories", (Role.OPS, Role.AUDITOR)),
    ("Audit", "/console/audit", (Role.OPS, Role.AUDITOR, Role.ADMIN)),
    ("Network", "/console/network", (Role.OPS, Role.AUDITOR, Role.ADMIN)),
    ("Failovers", "/console/failovers", (Role.OPS, Role.AUDITOR, Role.ADMIN)),
    ("Users", "/console/users", (Role.ADMIN,)),
)


def nav(request: Request, session: Session | None) -> list[NavLink]:
    """The links a signed-in user's role may follow (none before sign-in)."""
    if session is None or session.stage is not Stage.SIGNED_IN:
        return []
    links = []
    if session.role in (Role.CLERK, Role.SUPERVISOR, Role.OPS):
        site = home_site(request, session)
        links += [NavLink(label, f"/console/sites/{site}/{path}") for label, path in SITE_PAGES]
    links += [NavLink(label, href) for label, href, roles in NETWORK_PAGES if session.role in roles]
    links.append(NavLink("Second factor", "/console/totp/enrol"))
    return links


def page(
    request: Request,
    template: str,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> Response:
    """A console page in the shared layout, with navigation and the CSRF token."""
    base = {"session": session, "nav": nav(request, session),
            "csrf": session.csrf if session else ""}  # fmt: skip
    return render(request, template, {**base, **context}, status)


def session_for(request: Request, href: str, *, touch: bool = True) -> Session:
    """The caller's session, if their role may open the network page ``href`` (the same
    roles as its navigation link); ForbiddenError otherwise. The use cases behind the page
    check the caller again."""
    session = session_of(request, touch=touch)
    roles = next(r for _, h, r in NETWORK_PAGES if h == href)
    if session.role not in roles:
        raise ForbiddenError(f"this page is not for the {session.role} role", rule="role")
    return session


def session_of(request: Request, *, stage: Stage = Stage.SIGNED_IN, touch: bool = True) -> Session:
    """The caller's live session at ``stage``; UnauthenticatedError otherwise (``touch``:
    see :func:`postex.accounts.app.sessions.current`)."""
    session = current(console(request), request.cookies.get(COOKIE), touch=touch)
    if session.customer_id is not None:  # a sender portal session is no console session
        raise UnauthenticatedError("sign in first")
    set_caller(request.scope, "staff", session.user_id)
    if session.stage is not stage:
        if session.stage is Stage.SIGNED_IN:
            raise UnauthenticatedError("you are signed in already")
        raise UnfinishedSignInError(session.stage)
    return session


def changing(request: Request, sent: str | None, *, stage: Stage = Stage.SIGNED_IN) -> Session:
    """The session of a state-changing request whose CSRF token is right (ForbiddenError
    otherwise, before anything is written)."""
    session = session_of(request, stage=stage)
    if not check_csrf(session, sent or request.headers.get("X-CSRF-Token")):
        raise ForbiddenError("the form is stale or forged: reload the page", rule="csrf")
    return session


def set_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", path="/console",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def to_sign_in(request: Request, where: str = SIGN_IN) -> Response:
    """To the sign-in page or its next step (htmx follows ``HX-Redirect``)."""
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": where})
    return RedirectResponse(where, status_code=303)


def guarded(request: Request, answer: Callable[[], Response]) -> Response:
    """``answer()``, or the page for the PostexError it raised (sign-in when unauthenticated)."""
    try:
        return answer()
    except UnfinishedSignInError as exc:
        return to_sign_in(request, exc.where)
    except UnauthenticatedError:
        return to_sign_in(request)
    except PostexError as exc:
        status = status_for(exc)
        detail = exc.detail if status < 500 else "something went wrong on our side"
        # htmx swaps an error answer in place of the scan's (console.js lets 4xx swap).
        fragment = bool(request.headers.get("HX-Request"))
        # The same rules as the API's problem: each field and rule, or the error's rule.
        problems = exc.errors if isinstance(exc, ValidationError) and status < 500 else []
        rule = exc.extra.get("rule") if status < 500 else None
        came_from = request.headers.get("Referer", "")
        back = came_from if came_from.startswith(str(request.base_url)) else "/console"
        return render(
            request,
            "web/error_fragment.html" if fragment else "web/error.html",
            {"session": None, "nav": [], "csrf": "", "status": status, "title": exc.title,
             "detail": detail, "problems": problems, "rule": rule, "back": back},
            status,
        )  # fmt: skip


def authenticator_qr(secret: str, username: str) -> Markup:
    """The QR code an authenticator app scans to take ``secret`` (inline SVG, segno's own
    markup: no text of the user's reaches it but the account name it encodes)."""
    uri = provisioning_uri(secret, username)
    svg = segno.make(uri, error="m").svg_inline(omitsize=True, title="Authenticator key")
    return Markup(svg)  # noqa: S704 - segno's own SVG
