"""``/track/{id}``: the public tracking page, plain HTML with every value escaped.

Shows status, destination country and the timeline (description, place, time) — the
same non-personal data as ``GET /api/v1/tracking/{id}``, with the same ETag, caching and
rate limit. Errors are shown as an HTML page with the status the API would use.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import HTMLResponse

from postex.http.deps import container
from postex.http.problems import status_for
from postex.kernel.errors import PostexError
from postex.tracking.app.public import PublicTracking, public_tracking
from postex.tracking.http.tracking import cached, public_rate_limit

router = APIRouter(tags=["web"])
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Postex tracking</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem;
       color: #1b1b1b; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .4rem .5rem; border-bottom: 1px solid #ddd;
          vertical-align: top; }}
.status {{ font-size: 1.4rem; font-weight: 600; }}
</style>
</head>
<body>
<main>
{content}
</main>
</body>
</html>
"""


def _status_words(status: str) -> str:
    return status.replace("_", " ").capitalize()


def render(t: PublicTracking) -> str:
    rows = "\n".join(
        f"<tr><td>{escape(e.time)}</td><td>{escape(e.description)}</td>"
        f"<td>{escape(e.place or '')}</td></tr>"
        for e in reversed(t.events)
    )
    content = (
        f"<h1>Item {escape(t.id)}</h1>\n"
        f'<p class="status" id="status">{escape(_status_words(t.status))}</p>\n'
        f"<p>{escape(t.service)} to {escape(t.destination_name)}"
        f" ({escape(t.destination_country)})</p>\n"
        "<table>\n<thead><tr><th>Time</th><th>Event</th><th>Place</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody>\n</table>"
    )
    return PAGE.format(title=escape(t.id), content=content)


def render_error(status: int, title: str, detail: str) -> str:
    content = f"<h1>{escape(title)}</h1>\n<p>{escape(detail)}</p>"
    return PAGE.format(title=escape(f"{status} {title}"), content=content)


@router.get(
    "/track/{item_id}",
    response_class=HTMLResponse,
    summary="Public tracking page (HTML)",
    dependencies=[Depends(public_rate_limit)],
)
def track_page(
    request: Request,
    item_id: str = Path(max_length=40),
) -> Response:
    try:
        t = public_tracking(container(request).ctx, item_id)
    except PostexError as exc:
        status = status_for(exc)
        return HTMLResponse(render_error(status, exc.title, exc.detail), status_code=status)
    response = cached(request, render(t).encode(), "text/html; charset=utf-8")
    response.headers.update(SECURITY_HEADERS)
    return response
