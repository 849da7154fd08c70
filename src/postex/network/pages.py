"""Console page of network health: per site, replication lag, the newest checkpoint and
its witness, open integrity alarms (ops clear them with a reason), and items accepted per
hour over the last 24 hours, drawn as inline SVG on the server. The body refreshes itself
every 30 seconds (htmx); nothing on the page reaches outside Postex.

Charts use SVG presentation attributes and classes only: the CSP forbids inline styles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from postex.accounts.app.auth import Role
from postex.accounts.app.sessions import Session
from postex.bootstrap import replication
from postex.eventlog.chain import format_time
from postex.network.app.health import NetworkHealth, SiteHealth, clear_alarm_as, network_health
from postex.web.console import changing, container, guarded, page, session_for

NETWORK = "/console/network"
router = APIRouter(prefix=NETWORK, include_in_schema=False)
# Chart geometry (SVG user units; the chart scales to its box).
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 480, 150, 34, 22, 8
LAG_EVENTS_FULL = 1000  # a lag bar is full at this many events…
LAG_SECONDS_FULL = 600  # …or this many seconds (the bar says "or more")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]  # x, hour label
    peak: int
    peak_y: float
    base_y: float
    summary: str


def hourly_chart(site: SiteHealth, hours: tuple[str, ...]) -> Chart:
    """A bar per hour, scaled to the busiest hour (at least 1)."""
    peak = max(max(site.accepted, default=0), 1)
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(site.accepted), 1)
    bars = []
    for n, (count, hour) in enumerate(zip(site.accepted, hours, strict=True)):
        h = plot_h * count / peak
        bars.append(Bar(round(LEFT + n * step + 1, 1), round(TOP + plot_h - h, 1),
                        round(step - 2, 1), round(h, 1), f"{hour}: {count}"))  # fmt: skip
    ticks = tuple((round(LEFT + n * step, 1), hours[n]) for n in range(0, len(hours), 6))
    busiest = max(range(len(site.accepted)), key=lambda n: site.accepted[n], default=0)
    summary = f"{site.accepted_total} items accepted in the last 24 hours"
    if site.accepted_total:
        summary += f"; busiest hour {hours[busiest]} with {site.accepted[busiest]}"
    return Chart(tuple(bars), ticks, peak, TOP, TOP + plot_h, summary)


def lag_width(value: int | None, full: int) -> float:
    """How much of a 200-unit gauge a lag fills (a sliver for zero, so it is visible)."""
    if value is None:
        return 0
    return round(max(2.0, 200 * min(value, full) / full), 1)


def _health(request: Request, session: Session) -> NetworkHealth:
    c = container(request)
    rep = replication(c)
    return network_health(session.principal(), c.store, rep.state, rep.acceptance_counts(),
                          c.settings.role, c.settings.site, c.ctx.clock.now())  # fmt: skip


def _context(request: Request, session: Session) -> dict[str, Any]:
    health = _health(request, session)
    return {
        "health": health,
        "charts": {s.site: hourly_chart(s, health.hours) for s in health.sites},
        "lag_width": lag_width, "lag_events_full": LAG_EVENTS_FULL,
        "lag_seconds_full": LAG_SECONDS_FULL, "width": WIDTH, "height": HEIGHT, "left": LEFT,
        "ops": session.role is Role.OPS,
    }  # fmt: skip


@router.get("")
def network_page(request: Request) -> Response:
    def answer() -> Response:
        session = session_for(request, NETWORK)
        return page(request, "network/health.html", session, **_context(request, session))

    return guarded(request, answer)


@router.get("/fragment")
def fragment(request: Request) -> Response:
    """The refreshing part of the page (htmx polls it every 30 seconds). A poll is not
    activity: an unattended screen still signs out after the idle timeout."""

    def answer() -> Response:
        session = session_for(request, NETWORK, touch=False)
        return page(request, "network/body.html", session, **_context(request, session))

    return guarded(request, answer)


@router.post("/alarms/{alarm_id}/clear")
def clear(
    request: Request, alarm_id: int, csrf_token: str = Form(""), reason: str = Form("")
) -> Response:
    """Close an alarm after investigation; the reason goes to the audit trail."""

    def answer() -> Response:
        session = changing(request, csrf_token)
        c = container(request)
        rep = replication(c)
        clear_alarm_as(session.principal(), c.store, rep.state, c.settings.site, alarm_id,
                       reason, format_time(c.ctx.clock.now()))  # fmt: skip
        return RedirectResponse(NETWORK, status_code=303)

    return guarded(request, answer)
