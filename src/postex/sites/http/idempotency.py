"""``Idempotency-Key`` on the site routes' creating POSTs (acceptance, receptacles, despatches).

Same header, same retention and same 409 rules as the customer API; the key is scoped to
the staff user. See :func:`postex.items.app.idempotency.run_once` for how a key is claimed
before the operation and answered after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from postex.accounts.app.auth import Principal
from postex.http.deps import context
from postex.items.app.idempotency import idempotency, run_once, staff_scope
from postex.items.http.customer import IDEMPOTENCY_KEY, idempotency_retention

__all__ = ["IDEMPOTENCY_KEY", "once"]


def once(
    request: Request,
    p: Principal,
    key: str | None,
    body: BaseModel,
    operation: Callable[[], BaseModel],
    status: int = 201,
) -> Any:
    """The operation's answer; with a key, the first answer to it again (at most one run)."""
    if key is None or not p.is_staff:
        return operation()  # without a key, or refused by the use case anyway
    payload = json.dumps(
        body.model_dump(mode="json", exclude_unset=True), sort_keys=True, separators=(",", ":")
    ).encode()
    idem = idempotency(
        key,
        f"POST {request.url.path}".encode(),
        payload,
        retention=idempotency_retention(request),
    )
    answer = run_once(
        context(request),
        staff_scope(p.subject),
        idem,
        lambda: operation().model_dump(mode="json"),
        status,
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)
