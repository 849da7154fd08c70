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


class _Counted:
    """The request metrics of one (method, route, status): prometheus-client's children,
    labelled once, and their value cells' ``inc`` (the same values ``.inc()`` and
    ``.observe()`` change, in memory or in the multiprocess files, without the argument
    checks and the bucket search in Python on every request)."""

    __slots__ = ("bounds", "buckets", "count", "total")

    def __init__(self, method: str, route: str, status: int) -> None:
        counter = metrics.HTTP_REQUESTS.labels(method, route, str(status))
        histogram = metrics.HTTP_DURATION.labels(method, route)
        try:  # prometheus-client 0.26 (pinned); any other layout takes the public calls
            self.count: Callable[[float], None] = counter._value.inc
            self.total: Callable[[float], None] = histogram._sum.inc
            self.buckets: list[Callable[[float], None]] = [b.inc for b in histogram._buckets]
            self.bounds: list[float] | None = list(histogram._upper_bounds)
        except AttributeError:
            self.count, self.total, self.bounds = counter.inc, histogram.observe, None
            self.buckets = []

    def add(self, seconds: float) -> None:
        self.count(1)
        self.total(seconds)  # without the cells: Histogram.observe, buckets and all
        if self.bounds is not None:
            self.buckets[bisect_left(self.bounds, seconds)](1)  # the first bound >= seconds


class Observe:
    """Pure ASGI (no per-request task or body buffering): cheap enough for the hot paths.
    What is fixed for a route (its metrics' children, the start of its log line) is made on
    its first request and kept: routes are templates, methods a fixed set, so it is bounded."""

    def __init__(self, app: ASGIApp, *, with_metrics: bool = True, with_log: bool = True) -> None:
        self.app = app
        self.with_metrics = with_metrics
        self.with_log = with_log
        self._counted: dict[tuple[str, str, int], _Counted] = {}

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
            seconds = perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or metrics.UNMATCHED
            status = int(answer[0])
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            if self.with_metrics:
                key = (method, route, status)
                counted = self._counted.get(key)
                if counted is None:
                    counted = self._counted[key] = _Counted(method, route, status)
                counted.add(seconds)
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
