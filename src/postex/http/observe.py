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

import contextlib
import re
import uuid
from time import perf_counter
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postex import logs
from postex.http import metrics

_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._\-]{1,64}$")
CALLER = "postex.caller"  # scope key: (kind, id) of the authenticated caller


def request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            return value.decode() if _REQUEST_ID.match(value) else uuid.uuid4().hex
    return uuid.uuid4().hex


def set_caller(scope: Any, kind: str, subject: str) -> None:
    """Name the caller of this request in its log line (kind and id, nothing else)."""
    scope[CALLER] = (kind, subject)


class Observe:
    """Pure ASGI (no per-request task or body buffering): cheap enough for the hot paths."""

    def __init__(self, app: ASGIApp, *, with_metrics: bool = True, with_log: bool = True) -> None:
        self.app = app
        self.with_metrics = with_metrics
        self.with_log = with_log
        # (method, route, status) -> its counter and histogram: .labels() on every request
        # costs more than the increment. Bounded: routes are templates, methods a fixed set.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        rid = request_id(scope)
        header = (b"x-request-id", rid.encode())
        answer = {"status": 500, "replayed": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                headers = list(message.get("headers", ()))
                answer["replayed"] = (b"idempotent-replayed", b"true") in headers
                headers.append(header)
                message = {**message, "headers": headers}
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(request_id=rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or metrics.UNMATCHED
            status = int(answer["status"])
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            if self.with_metrics:
                key = (method, route, status)
                children = self._children.get(key)
                if children is None:
                    children = self._children[key] = (
                        metrics.HTTP_REQUESTS.labels(method, route, str(status)),
                        metrics.HTTP_DURATION.labels(method, route),
                    )
                children[0].inc()
                children[1].observe(seconds)
                if status == 429:
                    metrics.RATE_LIMITED.labels(route).inc()
                if answer["replayed"]:
                    metrics.IDEMPOTENT_REPLAYS.labels(route).inc()
            if self.with_log:
                caller = scope.get(CALLER)
                with contextlib.suppress(ValueError, OSError):  # a closed log: not the caller's
                    logs.info(
                        "postex.http", "request", method=method, route=route, status=status,
                        duration_ms=round(seconds * 1000, 2),
                        caller_kind=caller[0] if caller else None,
                        caller_id=caller[1] if caller else None,
                    )  # fmt: skip
            structlog.contextvars.reset_contextvars(**tokens)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
