"""Cursor pages of the lists: the customer's items, a site's receptacles and despatches.

A cursor is opaque to callers: base64url of ``[time, id]`` of the last row of the page
before. The next page is asked for with the same filters; ``links.next`` is that URL.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import Query

from postex.kernel.errors import ValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
CURSOR = Query(None, max_length=200, description="next_cursor of the page before")
LIMIT = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="rows per page")


Position = tuple[str, str]  # a list's sort key and id, as the paged repositories take it


def decode_cursor(value: str | None) -> Position | None:
    """The position a cursor stands for; ValidationError (field ``cursor``) if not ours."""
    if value is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        at, key = json.loads(raw)
        if isinstance(at, str) and isinstance(key, str) and len(at) <= 40 and len(key) <= 40:
            return at, key
    except (binascii.Error, ValueError, TypeError):
        pass
    raise ValidationError.single("cursor", "cursor", value, "not a cursor this API returned")


def encode_cursor(position: Position) -> str:
    raw = json.dumps(list(position), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page(
    key: str,
    rows: Sequence[Any],
    limit: int,
    path: str,
    query: dict[str, str | None],
    position: Callable[[Any], Position],
    out: Callable[[Any], Any],
) -> dict[str, Any]:
    """The body of one page: ``rows`` were fetched with ``limit + 1`` to know if more follow.

    ``position`` maps a row to its (time, id), ``out`` to what the page shows; ``query``
    holds the filters and the cursor this page was asked with (the next link carries the
    filters over with a new cursor).
    """
    shown = list(rows[:limit])
    more = len(rows) > limit and bool(shown)
    cursor = encode_cursor(position(shown[-1])) if more else None
    kept = {k: v for k, v in query.items() if v is not None}
    links = {"self": f"{path}?{urlencode({**kept, 'limit': limit})}"}
    if cursor is not None:
        kept["cursor"] = cursor
        links["next"] = f"{path}?{urlencode({**kept, 'limit': limit})}"
    return {key: [out(r) for r in shown], "next_cursor": cursor, "links": links}
