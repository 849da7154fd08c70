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


def stamp(value: object) -> str:
    """A stored time (``2026-12-04T23:11:52.608161Z``) as people read it: to the second."""
    text = str(value or "")
    if len(text) >= 19 and text[10] == "T":
        return f"{text[:10]} {text[11:19]} UTC"
    return text


@functools.cache
def environment() -> Environment:
    """One environment per process, built on first use (not at import)."""
    loader = PrefixLoader(
        {name: PackageLoader(f"postex.{name}", "templates") for name in FEATURES}, delimiter="/"
    )
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["stamp"] = stamp
    return env


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
