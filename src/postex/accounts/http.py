"""Authentication for HTTP: ``Authorization: Bearer <token>`` to a :class:`Principal`.

Authorization (roles, sites, ownership) is decided in the app layer and in scoped
queries; these dependencies establish who is calling and, with a :class:`Gate`, refuse
the kinds of caller a route is not for before any of the request's input is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from postex.accounts.app.auth import (
    CredentialRepository,
    Principal,
    Role,
    authenticate,
    customer_id_of,
    require_roles,
)
from postex.eventlog.context import Context
from postex.http.deps import context
from postex.http.observe import set_caller
from postex.kernel.errors import ForbiddenError

bearer_scheme = HTTPBearer(auto_error=False, description="API key or staff token: pxk_…")


def principal(
    request: Request,
    creds: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    ctx: Context = Depends(context),
) -> Principal:
    token = creds.credentials if creds and creds.scheme.lower() == "bearer" else None
    with ctx.store.read() as uow:
        p = authenticate(uow.repo(CredentialRepository), token)
    set_caller(request.scope, p.kind, p.subject)
    return p.with_ip(request.client.host if request.client else None)


@dataclass(frozen=True, eq=False)
class Gate:
    """Who may call a route at all (a dependency answering the caller's principal).

    The same refusals the app layer makes (rule ``kind`` or ``role``), made first: a caller
    of the wrong kind gets 403 whatever its query or body, never a 422 describing input
    it may not send. problems.py applies a route's gates again when input is refused, since
    FastAPI decodes a JSON body before any dependency runs.
    """

    message: str
    kinds: frozenset[str] | None = None
    roles: tuple[Role, ...] = ()

    def check(self, p: Principal) -> None:
        if self.kinds is not None and p.kind not in self.kinds:
            raise ForbiddenError(self.message, rule="kind")
        if self.roles:
            require_roles(p, *self.roles)

    def __call__(self, p: Principal = Depends(principal)) -> Principal:
        self.check(p)
        return p


CUSTOMERS = Gate("this route is for business customers' API keys", frozenset({"customer"}))
SITE_STAFF = Gate("site routes are for staff tokens", frozenset({"staff"}))
CARRIERS = Gate("carrier receipts come from partner keys", frozenset({"partner"}))


def roles(*allowed: Role) -> Gate:
    """Callers of one of ``allowed`` roles only (403, rule ``role``, like the app layer)."""
    return Gate("", None, allowed)


def customer_id(p: Principal = Depends(CUSTOMERS)) -> str:
    """The calling customer's id (403 for staff and partner tokens)."""
    return customer_id_of(p)
