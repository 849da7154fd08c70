"""A per-process cache of public answers: ``GET /api/v1/tracking/{id}`` and
``GET /track/{id}`` served from memory while the database has not changed (issue #17).

An answer is kept only when its route answered 200 with an ``ETag`` and no cookie. It is
served again only while the database's **generation** is the one read *before* the route
computed it: on SQLite, ``PRAGMA data_version`` on a connection of the cache's own that
never writes, which changes whenever any other connection — of this process, another
worker, ``postex worker``, ``replicate``, the CLI — commits. So a new event is visible at
the next request, in every process (each has its own cache). Every write clears the whole
cache: correctness does not depend on knowing which items a write touched. Without a
cheap generation (PostgreSQL, an in-memory SQLite) nothing is cached and every request
goes to its route as before.

What still applies on a hit: the public rate limit (the same per-process buckets as the
route's dependency, charged once; a refused request goes on to the route, which answers its
429), the request log and metrics (the :class:`~postex.http.observe.Observe` middleware
outside this one; the route template is set in the scope as the router would), and
conditional requests (``If-None-Match`` matching the stored ``ETag`` answers 304 with the
route's headers less the body's). Requests with a query string, other methods and every
other path go to the app untouched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postex.kernel.errors import RateLimitedError

MAX_ENTRIES = 50_000  # answers kept per process (a tracking answer is ~0.3–1 KiB, a page ~2–5)
MAX_BYTES = 32 * 1024 * 1024  # and their bodies' bytes, whichever limit comes first
BODYLESS = frozenset({b"content-type", b"content-length"})
CACHE_LOOKUPS = Counter(
    "postex_answer_cache_lookups",
    "Public tracking requests looked up in the process's answer cache, by outcome.",
    ["outcome"],
)
_HIT, _MISS = CACHE_LOOKUPS.labels("hit"), CACHE_LOOKUPS.labels("miss")


class SqliteGeneration:
    """``PRAGMA data_version`` of a SQLite file, read on a connection that never writes (a
    connection's own commits would not change it). A read error gives None: no cache."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def __call__(self) -> int | None:
        try:
            if self._conn is None:
                # Autocommit: each PRAGMA is its own short read; no snapshot is held open.
                self._conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=1
                )
            # fetchall: the statement runs to its end, so no read stays open (it would keep
            # the WAL from being checkpointed).
            rows = self._conn.execute("PRAGMA data_version").fetchall()
            return int(rows[0][0])
        except sqlite3.Error:
            self.close()
            return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def generation_for(engine: Any) -> Callable[[], int | None] | None:
    """The cheap generation check for ``engine``'s database, or None if it has none."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return SqliteGeneration(path)


class AnswerCache:
    """Pure ASGI; see the module's docstring. A path is cached when it is one of
    ``prefixes`` and one more segment. ``limiter(app)`` gives the rate limiter the routes'
    dependency uses (or None)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefixes: Sequence[str],
        generation: Callable[[], int | None] | None,
        limiter: Callable[[Any], Any],
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.app = app
        self.prefixes = tuple(prefixes)
        self.generation = generation
        self.limiter = limiter
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bytes = 0
        self._answers: dict[str, tuple[list[tuple[bytes, bytes]], bytes, bytes, Any]] = {}
        self._generation: int | None = None

    def _cacheable(self, path: str) -> bool:
        for prefix in self.prefixes:
            if path.startswith(prefix) and path != prefix and "/" not in path[len(prefix) :]:
                return True
        return False

    def _current(self) -> int | None:
        """The generation now; a change forgets every answer."""
        gen = self.generation() if self.generation is not None else None
        if gen != self._generation:
            self._answers.clear()
            self._bytes = 0
            self._generation = gen
        return gen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope.get("query_string")
            or self.generation is None
        ):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if not self._cacheable(path):
            await self.app(scope, receive, send)
            return
        gen = self._current()
        found = self._answers.get(path) if gen is not None else None
        if found is not None and self._allowed(scope):
            _HIT.inc()
            await self._answer(scope, found, send)
            return
        _MISS.inc()
        await self._fill(scope, receive, send, path, gen)

    def _allowed(self, scope: Scope) -> bool:
        limiter = self.limiter(scope["app"])
        if limiter is None:
            return True
        client = scope.get("client")
        try:
            limiter.check(client[0] if client else "unknown")
        except RateLimitedError:
            return False  # the route refuses it again (a refusal takes no token) and says why
        return True

    async def _answer(self, scope: Scope, found: Any, send: Send) -> None:
        headers, body, etag, route = found
        if route is not None:
            scope["route"] = route  # for the request's log line and metrics
        status = 200
        for key, value in scope["headers"]:
            if key == b"if-none-match":
                tags = {t.strip().removeprefix(b"W/") for t in value.split(b",")}
                if etag in tags or b"*" in tags:
                    status, body = 304, b""
                    headers = [h for h in headers if h[0] not in BODYLESS]
                break
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _fill(
        self, scope: Scope, receive: Receive, send: Send, path: str, gen: int | None
    ) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep)
        if gen is None or gen != self._generation or start.get("status") != 200:
            return  # the database changed while the route answered: keep nothing
        headers = [(bytes(k), bytes(v)) for k, v in start.get("headers", ())]
        etag = next((v for k, v in headers if k.lower() == b"etag"), None)
        if etag is None or any(k.lower() == b"set-cookie" for k, _ in headers):
            return
        body = b"".join(chunks)
        if path in self._answers or len(body) > self.max_bytes:
            return  # another request of the same path kept it first (or it would not fit)
        while self._answers and (
            len(self._answers) >= self.max_entries or self._bytes + len(body) > self.max_bytes
        ):
            oldest = next(iter(self._answers))
            self._bytes -= len(self._answers.pop(oldest)[1])
        self._answers[path] = (headers, body, etag, scope.get("route"))
        self._bytes += len(body)
