"""``/static/…``: the console's scripts, styles and sounds, served from the package.

Every asset is Postex's own (see ``static/README.md``): a site keeps working with its
internet link down. Only the files listed here are served.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

from postex.kernel.errors import NotFoundError

router = APIRouter(include_in_schema=False)
TYPES = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "accepted.wav": "audio/wav",
    "refused.wav": "audio/wav",
    "held.wav": "audio/wav",
    "htmx.LICENSE.txt": "text/plain; charset=utf-8",
}


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    """One packaged asset, cacheable for an hour; 404 for anything not listed."""
    kind = TYPES.get(name)
    if kind is None:
        raise NotFoundError(f"no file {name}")
    data = files("postex.web").joinpath("static", name).read_bytes()
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(data, media_type=kind, headers=headers)
