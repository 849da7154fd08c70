"""What the site pages share: who may see the supervisors' forms, answers to a form post."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from postex.accounts.app.sessions import Session
from postex.sites.app.ops import SITE_ROLES, SUPERVISING_ROLES, SiteOps
from postex.web.console import container


def ops_of(request: Request) -> SiteOps:
    return container(request).site_ops


def supervising(session: Session) -> bool:
    """Whether to show the forms only supervisors may use (the app refuses others anyway)."""
    return session.role in SUPERVISING_ROLES


def handling(session: Session) -> bool:
    """Whether to show the forms that handle bags (not to auditors, who only read)."""
    return session.role in SITE_ROLES


def after_post(request: Request, where: str) -> Response:
    """Back to the page after a form post (303, so a reload does not post again); htmx
    follows ``HX-Redirect``."""
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": where})
    return RedirectResponse(where, status_code=303)


def pdf(data: bytes, filename: str) -> Response:
    """A PDF shown in the browser (inline), ready to print, with a name to save it under."""
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"',
                 "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )  # fmt: skip
