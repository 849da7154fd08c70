"""Authentication for HTTP: ``Authorization: Bearer <token>`` to a :class:`Principal`.

Authorization (roles, sites, ownership) is decided in the app layer and in scoped
queries; these dependencies only establish who is calling.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from postex.app.auth import CredentialRepository, Principal, authenticate, customer_id_of
from postex.app.context import Context
from postex.entrypoints.http.deps import context

bearer_scheme = HTTPBearer(auto_error=False, description="API key or staff token: pxk_…")


def principal(
    request: Request,
    creds: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    ctx: Context = Depends(context),
) -> Principal:
    token = creds.credentials if creds and creds.scheme.lower() == "bearer" else None
    with ctx.store.read() as uow:
        p = authenticate(uow.repo(CredentialRepository), token)
    return p.with_ip(request.client.host if request.client else None)


def customer_id(p: Principal = Depends(principal)) -> str:
    """The calling customer's id (403 for staff and partner tokens)."""
    return customer_id_of(p)
