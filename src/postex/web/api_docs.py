"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), with every asset served by the node.

FastAPI's own pages load their scripts and styles from a CDN, so at a site whose internet
link is down they are blank. The same pages here point at ``/static/api-docs/…``: the
Swagger UI and ReDoc bundles shipped in the ``fastapi-offline`` package, read from it at
request time. ReDoc's Google web fonts are left out (the browser's own fonts are used), and
a Content-Security-Policy keeps both pages from reaching any other host (ReDoc's footer logo
would otherwise be fetched from its CDN).
"""

from __future__ import annotations

import functools
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
PREFIX = "/static/api-docs"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}


@functools.cache
def _read(name: str) -> bytes:
    return files("fastapi_offline").joinpath("static", name).read_bytes()


# Swagger UI starts from an inline script and ReDoc runs its search in a blob: worker.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "font-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"
)


def _guarded(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    page.headers["X-Content-Type-Options"] = "nosniff"
    return page


def _title(request: Request) -> str:
    return f"{request.app.title} API"


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return _guarded(
        get_swagger_ui_html(
            openapi_url=request.app.openapi_url,
            title=_title(request),
            swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/favicon.png",
        )
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return _guarded(
        get_redoc_html(
            openapi_url=request.app.openapi_url,
            title=_title(request),
            redoc_js_url=f"{PREFIX}/redoc.standalone.js",
            redoc_favicon_url=f"{PREFIX}/favicon.png",
            with_google_fonts=False,
        )
    )


def _asset(name: str, kind: str) -> None:
    def static_file() -> Response:
        headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
        return Response(_read(name), media_type=kind, headers=headers)

    router.add_api_route(f"{PREFIX}/{name}", static_file, methods=["GET"], name=f"api docs {name}")


for _name, _kind in ASSETS.items():
    _asset(_name, _kind)
