"""``/static/…``: the console's scripts, styles and sounds, served from the package.

Every asset is Postex's own (see ``static/README.md``): a site keeps working with its
internet link down. Only the files listed here are served.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)
TYPES = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "public.css": "text/css; charset=utf-8",
    "portal.css": "text/css; charset=utf-8",
    "local-time.js": "text/javascript; charset=utf-8",
    "accepted.wav": "audio/wav",
    "refused.wav": "audio/wav",
    "held.wav": "audio/wav",
    "htmx.LICENSE.txt": "text/plain; charset=utf-8",
}


def _asset(name: str, kind: str) -> None:
    def static_file() -> Response:
        data = files("postex.web").joinpath("static", name).read_bytes()
        headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
        return Response(data, media_type=kind, headers=headers)

    router.add_api_route(f"/static/{name}", static_file, methods=["GET"], name=f"static {name}")


# One route per listed file (no path parameter): nothing else under /static/ exists.
for _name, _kind in TYPES.items():
    _asset(_name, _kind)
