"""Console page of the audit trail: who did what, when, where and why; filtered by actor
(username or id), action (exact or ``prefix.*``), site and time, paged newest first.

Filters are validated by the same rules as ``GET /api/v1/audit`` (``make_filter``); a bad
one is shown with its rule. Actors are named by the app layer (usernames, not only ids).
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from postex.incidents.app.audit_trail import make_filter, search_audit
from postex.incidents.domain import network
from postex.kernel.errors import ValidationError
from postex.web.console import container, guarded, page, session_for

AUDIT = "/console/audit"
router = APIRouter(prefix=AUDIT, include_in_schema=False)
PAGE_SIZE = 50
ACTIONS = ("hold.*", "advisory.*", "staff.*", "integrity.*", "hold.placed", "hold.confirmed",
           "hold.released", "hold.partially_released", "staff.signed_in",
           "staff.sign_in_failed")  # fmt: skip
LOCAL_MINUTE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?")


def _utc(value: str) -> str:
    """A browser's date-time field has no offset: the page says its times are UTC."""
    value = value.strip()
    return value + "Z" if LOCAL_MINUTE.fullmatch(value) else value


def _details(details: dict[str, object]) -> list[tuple[str, str]]:
    """An entry's details as short ``name: value`` lines (nested values as compact JSON)."""
    return [(k, v if isinstance(v, str) else json.dumps(v, sort_keys=True, separators=(",", ":")))
            for k, v in sorted(details.items())]  # fmt: skip


@router.get("")
def audit_page(
    request: Request,
    actor: str = "",
    action: str = "",
    site: str = "",
    since: str = "",
    until: str = "",
    cursor: str = "",
) -> Response:
    def answer() -> Response:
        session = session_for(request, AUDIT)
        filters = {"actor": actor.strip(), "action": action.strip(), "site": site,
                   "since": since.strip(), "until": until.strip()}  # fmt: skip
        entries, errors, nxt, status = [], [], None, 200
        kept = {k: v for k, v in filters.items() if v}
        newest = f"{AUDIT}?{urlencode(kept)}" if cursor else None
        try:
            flt = make_filter(filters["actor"], filters["action"], None, _utc(filters["since"]),
                              _utc(filters["until"]), filters["site"])  # fmt: skip
            found = search_audit(container(request).ctx, session.principal(), flt,
                                 cursor or None, PAGE_SIZE)  # fmt: skip
            entries = [(e, _details(e.details)) for e in found.entries]
            if found.next_cursor:
                nxt = f"{AUDIT}?{urlencode({**kept, 'cursor': found.next_cursor})}"
        except ValidationError as exc:
            errors, status = exc.errors, 422
        return page(request, "incidents/audit.html", session, status, entries=entries,
                    errors=errors, filters=filters, next_page=nxt, newest_page=newest,
                    sites=[s.code for s in network().sites], actions=ACTIONS)  # fmt: skip

    return guarded(request, answer)
