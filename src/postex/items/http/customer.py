"""What every customer route shares: the calling customer and its rate limit.

Query strings are strict on every API route (``postex.http.query``, added by the server).

``customer`` authenticates first (401 for no key or a revoked key, before anything is
looked up), refuses staff and partner tokens (403) and takes one token from the key's
bucket (429 with Retry-After when empty).
"""

from __future__ import annotations

import threading
from datetime import timedelta

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse

from postex.accounts.app.auth import Principal, customer_id_of
from postex.accounts.http import CUSTOMERS
from postex.http.deps import container
from postex.http.limits import RateLimiter, SharedRateLimiter
from postex.items.app.customer_items import Answer
from postex.items.app.documents import Documents

IDEMPOTENCY_KEY = Header(
    None,
    alias="Idempotency-Key",
    max_length=255,
    description="Retrying with the same key and body returns the first answer; "
    "the same key with another body is a 409 problem.",
    examples=["3f1c0e2a-6b8d-4e7a-9c41-2f0d5b7a9e10"],
)
_limiter_guard = threading.Lock()


def limiter(request: Request) -> RateLimiter | SharedRateLimiter:
    """The customer keys' limiter: shared by every process on the database, or per process.

    ``api_rate_scope`` "auto" shares it on PostgreSQL only: on SQLite each shared check is a
    write, which waits behind a running append (see ``postex bench rate-limit``).
    """
    state = request.app.state
    found: RateLimiter | SharedRateLimiter | None = getattr(state, "customer_limiter", None)
    if found is None:
        with _limiter_guard:
            found = getattr(state, "customer_limiter", None)
            if found is None:
                c = container(request)
                s = c.settings
                rate = float(s.api_rate_per_second)
                clock = c.ctx.clock

                def seconds() -> float:
                    return clock.now().timestamp()

                if c.shares_rate_limits:
                    found = SharedRateLimiter(c.rate_windows, rate, s.api_burst, seconds)
                else:
                    found = RateLimiter(rate, s.api_burst, seconds)
                state.customer_limiter = found
    return found


def idempotency_retention(request: Request) -> timedelta:
    """How long an Idempotency-Key's first answer is kept (``idempotency_retention_hours``)."""
    return timedelta(hours=container(request).settings.idempotency_retention_hours)


def documents(request: Request) -> Documents:
    return container(request).documents


def customer(request: Request, p: Principal = Depends(CUSTOMERS)) -> str:
    """The calling customer (401 without a valid key, 403 for staff), rate limited per key."""
    customer_id = customer_id_of(p)
    limiter(request).check(p.key_id)
    return customer_id


def answer_response(answer: Answer, location: str | None = None) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    if location:
        headers["Location"] = location
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)
