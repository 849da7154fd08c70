"""The Jinja2 environment of every server-rendered page, and how a page is answered.

Each feature keeps its templates in its own ``templates/`` folder and names them with its
prefix (``"sites/accept.html"``); the shared layout is ``"web/base.html"``. Autoescaping
is on for everything. Pages carry a strict Content-Security-Policy: scripts, styles,
sounds and images come only from Postex itself, so a page never reaches outside the site.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, PrefixLoader, StrictUndefined, select_autoescape

FEATURES = ("web", "accounts", "items", "sites", "incidents", "network", "tracking")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none';"
        " frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@functools.cache
def environment() -> Environment:
    """One environment per process, built on first use (not at import)."""
    loader = PrefixLoader(
        {name: PackageLoader(f"postex.{name}", "templates") for name in FEATURES}, delimiter="/"
    )
    return Environment(
        loader=loader,
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page ``template`` filled with ``context`` (plus ``request``), with the console's
    security headers."""
    html = environment().get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
