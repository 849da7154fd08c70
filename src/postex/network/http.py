"""``GET /api/v1/integrity``: heads, checkpoints, replication lag, verification, alarms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from postex.accounts.app.auth import Principal, Role
from postex.accounts.http import roles
from postex.bootstrap import Container, replication
from postex.http.deps import container
from postex.network.app.status import integrity_for

router = APIRouter(tags=["integrity"])


@router.get(
    "/api/v1/integrity",
    summary="Log integrity and replication per site (ops, auditor, admin)",
)
def integrity(
    p: Principal = Depends(roles(Role.OPS, Role.AUDITOR, Role.ADMIN)),
    c: Container = Depends(container),
) -> Any:
    """Per site: head seq and hash, newest checkpoint and whether the hub countersigned it,
    replication lag (a site: head - acknowledged; the hub: site's reported head - copy),
    the last verification and every integrity alarm."""
    rep = replication(c)
    view: dict[str, Any] = integrity_for(
        p, c.store, rep.state, c.settings.role, c.settings.site, rep.now()
    )
    return view
