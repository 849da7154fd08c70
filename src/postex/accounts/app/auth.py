"""Who is calling: customers, staff and partners, and the credentials that prove it.

Credentials are bearer tokens ``pxk_<key id>_<secret>``. Only SHA-256 of the secret is
stored (in the log and its projection); the token is shown once, when issued. A token
that is unknown, revoked or malformed is refused with the same error, so a caller learns
nothing about which keys exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from postex.accounts.events import CredentialIssued, CredentialRevoked
from postex.eventlog.catalogue import Event
from postex.kernel.errors import ForbiddenError, NotFoundError, UnauthenticatedError

TOKEN_PREFIX = "pxk"  # noqa: S105 - a public prefix, not a secret


class Role(StrEnum):
    CUSTOMER = "customer"
    PARTNER = "partner"
    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    OPS = "ops"
    AUDITOR = "auditor"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.CLERK, Role.SUPERVISOR, Role.OPS, Role.AUDITOR, Role.ADMIN})
NETWORK_ROLES = frozenset({Role.OPS, Role.AUDITOR, Role.ADMIN})  # not bound to one site


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``subject`` is the customer, user or partner id."""

    kind: str  # customer | staff | partner
    subject: str
    role: Role
    key_id: str
    site: str | None = None  # clerks and supervisors act at this site only
    offices: tuple[str, ...] = ()  # partners: the IMPC offices they speak for
    name: str = ""
    ip: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def with_ip(self, ip: str | None) -> Principal:
        return Principal(self.kind, self.subject, self.role, self.key_id, self.site,
                         self.offices, self.name, ip)  # fmt: skip

    def actor(self) -> dict[str, Any]:
        """Who did it, as recorded in audit events."""
        out: dict[str, Any] = {"kind": self.kind, "id": self.subject, "role": str(self.role)}
        if self.site:
            out["site"] = self.site
        if self.ip:
            out["ip"] = self.ip
        return out


@dataclass(frozen=True)
class CredentialRecord:
    key_id: str
    kind: str
    subject: str
    role: Role
    secret_hash: bytes
    created_at: str
    revoked_at: str | None
    site: str | None = None
    offices: tuple[str, ...] = ()
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    disabled: bool = False  # its staff user is disabled: refused like a revoked one

    @property
    def prefix(self) -> str:
        return f"{TOKEN_PREFIX}_{self.key_id}"


class CredentialRepository(Protocol):
    def get(self, key_id: str) -> CredentialRecord | None: ...

    def for_subject(self, subject: str) -> list[CredentialRecord]: ...


@dataclass(frozen=True)
class IssuedToken:
    key_id: str
    token: str
    event: Event


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def issue_token(
    kind: str,
    subject: str,
    role: Role,
    *,
    site: str | None = None,
    offices: tuple[str, ...] = (),
    name: str = "",
) -> IssuedToken:
    """A new credential and the event that records it (append it to make it valid).

    A customer's key carries no name in the log (the account's name is sealed with the
    account); staff and partner keys carry the username or partner name."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    event = CredentialIssued(
        key_id=key_id,
        kind=kind,
        subject=subject,
        role=str(role),
        secret_sha256=_hash(secret).hex(),
        site=site,
        offices=list(offices),
        name="" if kind == "customer" else name,
    )
    return IssuedToken(key_id, f"{TOKEN_PREFIX}_{key_id}_{secret}", event)


def revoke_event(key_id: str, actor: dict[str, Any]) -> Event:
    return CredentialRevoked(key_id=key_id, actor=actor)


def parse_token(token: str) -> tuple[str, str]:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        raise UnauthenticatedError("missing or invalid credentials")
    return parts[1], parts[2]


def authenticate(repo: CredentialRepository, token: str | None) -> Principal:
    """The principal behind a bearer token; UnauthenticatedError for anything else."""
    if not token:
        raise UnauthenticatedError("missing or invalid credentials")
    key_id, secret = parse_token(token)
    record = repo.get(key_id)
    if (
        record is None
        or record.revoked_at is not None
        or record.disabled
        or not hmac.compare_digest(record.secret_hash, _hash(secret))
    ):
        raise UnauthenticatedError("missing or invalid credentials")
    return Principal(
        kind=record.kind,
        subject=record.subject,
        role=record.role,
        key_id=record.key_id,
        site=record.site,
        offices=record.offices,
        name=record.name,
    )


def require_roles(p: Principal, *roles: Role) -> None:
    """Refuse a principal whose role is not one of ``roles``."""
    if p.role not in roles:
        allowed = ", ".join(str(r) for r in roles)
        raise ForbiddenError(f"this action needs one of the roles: {allowed}", rule="role")


def require_site(p: Principal, site: str) -> None:
    """Clerks and supervisors act only at their own site; another site does not exist for them."""
    if p.role in NETWORK_ROLES:
        return
    if p.site != site:
        raise NotFoundError(f"no site {site}")


def customer_id_of(p: Principal) -> str:
    """The customer a principal acts for; other kinds of caller have none."""
    if p.kind != "customer":
        raise ForbiddenError("this route is for business customers' API keys", rule="kind")
    return p.subject
