"""The audit trail for auditors and ops: filters and cursor pagination."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from postex.accounts.app.auth import Principal, Role
from postex.accounts.http import roles
from postex.eventlog.context import Context
from postex.http.deps import context
from postex.incidents.app.audit_trail import make_filter, search_audit
from postex.incidents.http.holds import ERRORS

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditEntryOut(BaseModel):
    site: str
    seq: int
    at: str
    actor: dict[str, Any]
    actor_name: str | None = Field(
        None, description="The staff username, customer or partner name of actor.id"
    )
    action: str
    target: str
    reason: str
    details: dict[str, Any]


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut]
    next_cursor: str | None


@router.get(
    "/audit", response_model=AuditPageOut, summary="Search the audit trail", responses=ERRORS
)
def audit(
    actor: str | None = Query(
        None, max_length=200, description="Actor id, e.g. usr_…, or a staff username"
    ),
    action: str | None = Query(None, max_length=200, examples=["hold.*"]),
    target: str | None = Query(None, max_length=200),
    since: str | None = Query(None, max_length=40, examples=["2023-01-11T00:00:00Z"]),
    until: str | None = Query(None, max_length=40),
    site: str | None = Query(None, max_length=16, description="The site whose log recorded it"),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(100, ge=1, le=500),
    p: Principal = Depends(roles(Role.AUDITOR, Role.OPS)),
    ctx: Context = Depends(context),
) -> AuditPageOut:
    """Newest first. ``action`` is exact or a prefix ending in ``*``; ``since`` inclusive,
    ``until`` exclusive (RFC 3339 with an offset)."""
    flt = make_filter(actor, action, target, since, until, site)
    page = search_audit(ctx, p, flt, cursor, limit)
    return AuditPageOut(
        entries=[AuditEntryOut(**e.to_dict()) for e in page.entries],
        next_cursor=page.next_cursor,
    )
