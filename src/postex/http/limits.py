"""Rate limiting (token buckets in process, sliding windows shared in the database) and
request body size limits.

One bucket or window per key (an API key id, or a client address for public routes).
Customer keys are limited across every server process on the database by
:class:`SharedRateLimiter` (setting ``api_rate_scope``); public routes per process.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from postex.accounts.app.rate_limits import RateWindows, SlidingWindow
from postex.kernel.errors import PayloadTooLargeError, RateLimitedError


class RateLimiter:
    """``rate`` requests per second sustained, bursts of up to ``burst``."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, cost: float = 1.0) -> None:
        """Take ``cost`` tokens from ``key``'s bucket or raise RateLimitedError."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((cost - tokens) / self.rate)
                raise RateLimitedError(
                    f"rate limit of {self.rate:g} requests/s exceeded", max(wait, 1)
                )
            self._buckets[key] = (tokens - cost, now)
            if len(self._buckets) > 100_000:  # forget idle buckets (full ones cost nothing)
                self._buckets = {
                    k: v for k, v in self._buckets.items() if now - v[1] < self.burst / self.rate
                }


def public_limiter(app: Any) -> RateLimiter:
    """The public routes' limiter of this process (per client address), made on first use
    from the node's settings: the routes' dependency and the answer cache share it."""
    limiter: RateLimiter | None = getattr(app.state, "public_limiter", None)
    if limiter is None:
        settings = app.state.container.settings
        limiter = app.state.public_limiter = RateLimiter(
            settings.public_rate, settings.public_burst
        )
    return limiter


async def public_rate_limit(request: Request) -> None:
    """The public routes' dependency: per client address, the limiter of this process.

    Async on purpose: it does no I/O, and a sync dependency would cost a thread hop.
    """
    public_limiter(request.app).check(request.client.host if request.client else "unknown")


class SharedRateLimiter:
    """``rate`` requests per second per key across all processes sharing ``windows``.

    The in-process bucket (same rate and burst) is a fast path in front of it: a key this
    process alone has seen over its limit is refused without touching the database, so a
    flood costs no writes. Only requests it lets through take the shared window's one
    UPSERT. ``clock`` is wall-clock seconds (comparable between processes and hosts).
    """

    def __init__(
        self,
        windows: RateWindows,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.windows = windows
        self.rate = rate
        self.window = SlidingWindow.of(rate, burst)
        self.clock = clock
        self.local = RateLimiter(rate, burst, clock)

    def check(self, key: str) -> None:
        """Count one request of ``key`` or raise RateLimitedError."""
        self.local.check(key)
        now = self.clock()
        index, keep = self.window.position(now)
        if not self.windows.take(key, index, keep, self.window.limit):
            raise RateLimitedError(
                f"rate limit of {self.rate:g} requests/s exceeded",
                self.window.retry_after(now),
            )


class BodySizeLimit:
    """ASGI middleware: refuse bodies over ``max_bytes`` with a 413 problem, reading no more.

    A declared Content-Length over the limit is refused before reading; a streamed body
    (chunked, or lying about its length) is counted as it arrives and refused the moment
    it passes the limit, whoever reads it (a route, or FastAPI decoding JSON: see
    problems.py, which keeps that a 413 too)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLargeError(
                        f"the request body is over {self.max_bytes} bytes",
                        rule="max_body_bytes",
                        value=self.max_bytes,
                    )
            return message

        try:
            await self.app(scope, limited, send)
        except PayloadTooLargeError:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        import json

        body = json.dumps(
            {
                "type": "https://postex.dev/problems/payload-too-large",
                "title": "Request body too large",
                "status": 413,
                "detail": f"the request body is over {self.max_bytes} bytes",
                "rule": "max_body_bytes",
                "value": self.max_bytes,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
