"""One middleware for what operations see of each request: a request id, a log line and
the request metrics.

The request id is the caller's ``X-Request-ID`` when it is well formed (1–64 letters,
digits, ``.``, ``_``, ``-``), else a new one; it is returned in ``X-Request-ID`` and bound
to every log line written while the request runs. The request line carries the method,
the route template (never the path: it holds item ids and tracking numbers), the status,
the duration and the caller's kind and id once authenticated (``caller`` in the scope,
set by ``accounts.http.principal`` and the console's session lookup): never a token,
a query string or a body.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import random
import re
from bisect import bisect_left
from collections.abc import Callable
from time import perf_counter
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postex import logs
from postex.http import metrics

_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._\-]{1,64}$")
CALLER = "postex.caller"  # scope key: (kind, id) of the authenticated caller
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# structlog's own variable for ``request_id`` (what bind_contextvars(request_id=...) sets,
# from its registry of variables: structlog is pinned), set and reset directly, without
# bind_contextvars' per-call work: every line logged while the request runs carries the id.
_BOUND_ID: contextvars.ContextVar[Any] = structlog.contextvars._CONTEXT_VARS.setdefault(
    "structlog_request_id", contextvars.ContextVar("structlog_request_id", default=Ellipsis)
)
# New request ids: 128 random bits from a generator of this process's own, seeded from the
# OS and seeded again in a forked child (the same ids in two workers would be no ids at
# all); uuid4 asks the OS for every id, a system call on every request. An id is a label
# for a request, not a secret: it is returned to whoever made the request.
_IDS = random.Random(os.urandom(32))  # noqa: S311  # unique, not secret
os.register_at_fork(after_in_child=lambda: _IDS.seed(os.urandom(32)))


def new_request_id() -> str:
    return f"{_IDS.getrandbits(128):032x}"


def request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            return value.decode() if _REQUEST_ID.match(value) else new_request_id()
    return new_request_id()


def set_caller(scope: Any, kind: str, subject: str) -> None:
    """Name the caller of this request in its log line (kind and id, nothing else)."""
    scope[CALLER] = (kind, subject)


FLUSH_SECONDS = 0.1  # counts wait at most this long before prometheus-client's cells hold them


class _Tally:
    """The requests of one (method, route, status) counted since they were last moved into
    prometheus-client's value cells: plain integers and a float on the request's path, three
    locked increments (or mmapped-file writes, with several workers) per route and status
    per interval instead of per request."""

    __slots__ = ("bounds", "buckets", "cells", "n", "seconds")

    def __init__(self, method: str, route: str, status: int) -> None:
        counter = metrics.HTTP_REQUESTS.labels(method, route, str(status))
        histogram = metrics.HTTP_DURATION.labels(method, route)
        # prometheus-client 0.26 (pinned): the cells .inc() and .observe() change, in memory
        # or in the multiprocess files (tests/observe/test_request_observe.py holds them to
        # the buckets Histogram.observe chooses).
        self.cells: tuple[Callable[[float], None], Callable[[float], None],
                          list[Callable[[float], None]]] = (
            counter._value.inc, histogram._sum.inc, [b.inc for b in histogram._buckets]
        )  # fmt: skip
        self.bounds: list[float] = list(histogram._upper_bounds)  # the last is +Inf
        self.n = 0
        self.seconds = 0.0
        self.buckets = [0] * len(self.bounds)

    def add(self, seconds: float) -> None:
        self.n += 1
        self.seconds += seconds
        self.buckets[bisect_left(self.bounds, seconds)] += 1  # the first bound >= seconds

    def move(self) -> None:
        """Into the cells: what a scrape, in this process or another, reads."""
        if not self.n:
            return
        count, total, buckets = self.cells
        n, seconds, counts = self.n, self.seconds, self.buckets
        self.n, self.seconds, self.buckets = 0, 0.0, [0] * len(counts)
        count(n)
        total(seconds)
        for inc, k in zip(buckets, counts, strict=True):
            if k:
                inc(k)


class Observe:
    """Pure ASGI (no per-request task or body buffering): cheap enough for the hot paths.
    What is fixed for a route (its tally, the start of its log line) is made on its first
    request and kept: routes are templates, methods a fixed set, so it is bounded.

    Request counts wait in :class:`_Tally` for at most :data:`FLUSH_SECONDS` (a timer on the
    event loop moves them), and ``/metrics`` moves this process's first
    (``app.state.flush_request_metrics``): a scrape answered here is exact, one answered by
    another worker sees this one's requests up to :data:`FLUSH_SECONDS` late. Every count
    is touched on the event loop's thread only (the scrape's move included)."""

    def __init__(self, app: ASGIApp, *, with_metrics: bool = True, with_log: bool = True) -> None:
        self.app = app
        self.with_metrics = with_metrics
        self.with_log = with_log
        self._tallies: dict[tuple[str, str, int], _Tally] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0  # perf_counter() after which a timer not run is a stopped loop's
        self._bound: Any = None  # the app whose state names flush_metrics

    def flush_metrics(self) -> None:
        """Move every count waiting into prometheus-client's cells (a scrape, a shutdown)."""
        for tally in self._tallies.values():
            tally.move()

    def _on_timer(self) -> None:
        self._timer = None
        self.flush_metrics()

    def _schedule(self, now: float) -> None:
        """A timer for the counts just added, on the running loop (once an interval)."""
        if self._timer is not None:  # due and not run: its event loop has stopped
            self._timer = None
            self.flush_metrics()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - an ASGI app runs on a loop
            self.flush_metrics()
            return
        self._due = now + 2 * FLUSH_SECONDS
        self._timer = loop.call_later(FLUSH_SECONDS, self._on_timer)

    def _count(self, scope: Scope, key: tuple[str, str, int], seconds: float, now: float) -> None:
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = _Tally(*key)
            app = scope.get("app")
            if app is not None and app is not self._bound:  # /metrics finds the counts here
                app.state.flush_request_metrics = self.flush_metrics
                self._bound = app
        tally.add(seconds)
        if self._timer is None or now > self._due:
            self._schedule(now)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        rid = request_id(scope)
        header = (b"x-request-id", rid.encode())
        answer: list[Any] = [500, False]  # status, replayed

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer[0] = message["status"]
                headers = [*message.get("headers", ()), header]
                answer[1] = (b"idempotent-replayed", b"true") in headers
                message = {**message, "headers": headers}
            await send(message)

        token = _BOUND_ID.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            now = perf_counter()
            seconds = now - started
            route = getattr(scope.get("route"), "path", None) or metrics.UNMATCHED
            status = int(answer[0])
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            if self.with_metrics:
                self._count(scope, (method, route, status), seconds, now)
                if status == 429:
                    metrics.RATE_LIMITED.labels(route).inc()
                if answer[1]:
                    metrics.IDEMPOTENT_REPLAYS.labels(route).inc()
            if self.with_log:
                try:  # noqa: SIM105  # not contextlib.suppress: a context manager per request
                    logs.request(method, route, status, seconds, scope.get(CALLER), rid)
                except (ValueError, OSError):  # a closed log: not the caller's
                    pass
            _BOUND_ID.reset(token)
