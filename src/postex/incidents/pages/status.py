"""The public status page ``/status``: active and recent advisories, per service and
destination, with start time and updates. Plain HTML; every value goes through
``html.escape``.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from postex.eventlog.context import Context
from postex.http.deps import context, cut_off_since
from postex.incidents.app.advisories import AdvisoryRecord, list_advisories
from postex.kernel.countries import country_name
from postex.kernel.reference import services

router = APIRouter(tags=["web"])
HEADERS = {
    "Cache-Control": "public, max-age=30",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;"
    "color:#1b1b1b}.ok{color:#1a6b2f}.adv{border-left:4px solid #b35900;padding:.5rem 1rem;"
    "margin:1rem 0}.resolved{border-color:#1a6b2f}.meta{color:#555;font-size:.9rem}"
    "table{border-collapse:collapse}th,td{text-align:left;padding:.2rem .8rem .2rem 0}"
)


def _names(codes: tuple[str, ...], every: str, name: Callable[[str], str]) -> str:
    return ", ".join(name(c) for c in codes) if codes else every


def _service_name(code: str) -> str:
    svc = services().by_code.get(code)
    return svc.name if svc else code


def _country(code: str) -> str:
    try:
        return f"{country_name(code)} ({code})"
    except KeyError:
        return code


def _advisory(a: AdvisoryRecord, status: str) -> str:
    s = a.scope
    scope = (
        f"Services: {_names(s.services, 'all services', _service_name)}. "
        f"Destinations: {_names(s.destinations, 'all destinations', _country)}."
        + (" Items with goods (customs declaration) only." if s.goods_only else "")
    )
    updates = "".join(f"<li><time>{escape(u.at)}</time>: {escape(u.text)}</li>" for u in a.updates)
    return (
        f'<section class="adv {escape(status)}" id="{escape(a.id)}">'
        f"<h2>{escape(status.capitalize())}: {escape(scope)}</h2>"
        f"<p>{escape(a.text)}</p>"
        f'<p class="meta">Since <time>{escape(a.starts_at)}</time>'
        + (f"; resolved <time>{escape(a.closed_at)}</time>" if a.closed_at else "")
        + "</p>"
        + (f"<h3>Updates</h3><ul>{updates}</ul>" if updates else "")
        + "</section>"
    )


def _by_service(live: list[AdvisoryRecord]) -> str:
    """One row per service: normal, or which destinations are affected (and how)."""
    rows = []
    for svc in services().by_code.values():
        hits = [a for a in live if not a.scope.services or svc.code in a.scope.services]
        if not hits:
            state = '<span class="ok">Normal</span>'
        else:
            parts = [
                _names(a.scope.destinations, "all destinations", _country)
                + (" (items with goods)" if a.scope.goods_only else "")
                for a in hits
            ]
            state = "Affected: " + escape("; ".join(parts))
        rows.append(f'<tr><th scope="row">{escape(svc.name)}</th><td>{state}</td></tr>')
    return (
        "<table><caption>By service</caption><thead><tr><th>Service</th><th>Status</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def status_body(rows: list[AdvisoryRecord], statuses: list[str]) -> str:
    """What the page says, without its frame: the console's preview shows exactly this."""
    order = {"active": 0, "scheduled": 1, "resolved": 2}
    pairs = sorted(zip(rows, statuses, strict=True), key=lambda p: order.get(p[1], 3))
    live = any(st != "resolved" for st in statuses)
    summary = (
        "<p>Some export services are affected. Details below.</p>"
        if live
        else '<p class="ok">All export services are running normally.</p>'
    )
    table = _by_service([a for a, st in pairs if st == "active"])
    return summary + table + "".join(_advisory(a, st) for a, st in pairs)


def render_status(
    rows: list[AdvisoryRecord], statuses: list[str], cut_off_since: str | None = None
) -> str:
    """The whole page; advisories in force first, then scheduled, then resolved. A site cut
    off from the network says since when (what it knew then still applies)."""
    cut = (
        f'<p class="adv">This site has had no news from the rest of the network since '
        f"{escape(cut_off_since)} (UTC). It keeps working with what it knew then: items "
        "pre-advised before that time are accepted, and the holds it knew still apply.</p>"
        if cut_off_since
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Postex service status</title><style>{STYLE}</style></head>"
        f"<body><h1>Service status</h1>{cut}{status_body(rows, statuses)}</body></html>"
    )


@router.get("/status", response_class=HTMLResponse, summary="Public status page")
def status_page(
    ctx: Context = Depends(context), cut_off: str | None = Depends(cut_off_since)
) -> HTMLResponse:
    rows = list_advisories(ctx)
    now = ctx.clock.now()
    html = render_status(rows, [a.status(now) for a in rows], cut_off)
    return HTMLResponse(html, headers=HEADERS)
