"""API keys of customers, partners and staff users: list (prefix only), revoke, rotate.

Keys are credentials (app/auth.py): only a SHA-256 of the secret is ever stored, so a
listing shows the public prefix ``pxk_<key id>`` and dates, never anything that opens the
API. Revoking and rotating are staff actions and leave an audit event in the same
transaction. Rotation issues the new key and revokes the old one atomically: there is no
moment with neither key valid, and none with both valid after the call returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import (
    CredentialRecord,
    CredentialRepository,
    Role,
    issue_token,
    revoke_event,
)
from postex.accounts.app.customers import CustomerRepository
from postex.accounts.app.partners import PartnerRepository
from postex.accounts.app.staff import UserRepository
from postex.eventlog.context import Context
from postex.eventlog.ports import UnitOfWork
from postex.kernel.errors import InvalidStateError, NotFoundError, ValidationError


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown about a key: never its secret or its hash."""

    key_id: str
    prefix: str
    customer_id: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class RotatedKey:
    customer_id: str
    new_key_id: str
    api_key: str  # shown once
    revoked_key_id: str


def _info(r: CredentialRecord) -> ApiKeyInfo:
    return ApiKeyInfo(r.key_id, r.prefix, r.subject, r.created_at, r.revoked_at)


KINDS = ("customer", "partner", "staff")


def _subject_exists(uow: UnitOfWork, kind: str, subject: str) -> bool:
    if kind == "customer":
        return uow.repo(CustomerRepository).get(subject) is not None
    if kind == "partner":
        return uow.repo(PartnerRepository).get(subject) is not None
    if kind == "staff":
        return uow.repo(UserRepository).get(subject) is not None
    raise ValidationError.single("kind", "one_of", kind, f"one of {', '.join(KINDS)}")


def _customer_keys(
    uow: UnitOfWork, customer_id: str, kind: str = "customer"
) -> list[CredentialRecord]:
    if not _subject_exists(uow, kind, customer_id):
        raise NotFoundError(f"no {kind} {customer_id}")
    return [r for r in uow.repo(CredentialRepository).for_subject(customer_id) if r.kind == kind]


def _owned_key(
    uow: UnitOfWork, customer_id: str, key_id: str, kind: str = "customer"
) -> CredentialRecord:
    record = uow.repo(CredentialRepository).get(key_id)
    if record is None or record.kind != kind or record.subject != customer_id:
        raise NotFoundError(f"{kind} {customer_id} has no key {key_id}")
    return record


def _key_id(value: str) -> str:
    """Accept a bare key id or its printed prefix ``pxk_<id>``."""
    text = value.strip()
    if text.startswith("pxk_"):
        text = text[4:]
    if not text or len(text) > 24 or not text.isalnum():
        raise ValidationError.single("key_id", "format", value, "a key id such as 3f9a0c1b2d4e")
    return text


def list_keys(ctx: Context, customer_id: str, kind: str = "customer") -> list[ApiKeyInfo]:
    """Every key the customer (partner, staff user) ever had, oldest first; NotFoundError for
    an unknown one."""
    with ctx.store.read() as uow:
        return [_info(r) for r in _customer_keys(uow, customer_id, kind)]


def revoke_key(
    ctx: Context,
    customer_id: str,
    key_id: str,
    actor: dict[str, Any],
    reason: str = "",
    kind: str = "customer",
) -> ApiKeyInfo:
    """Revoke one key now; requests with it get 401 from the next request on.

    NotFoundError if the key is not this customer's; InvalidStateError if already revoked.
    """
    kid = _key_id(key_id)
    with ctx.store.write(ctx.site) as uow:
        record = _owned_key(uow, customer_id, kid, kind)
        if record.revoked_at is not None:
            raise InvalidStateError(
                f"key {kid} was already revoked at {record.revoked_at}", rule="already_revoked"
            )
        uow.append(
            [
                revoke_event(kid, actor),
                audit_event(actor, f"{kind}_key.revoked", kid, reason, {kind: customer_id}),
            ]
        )
        updated = uow.repo(CredentialRepository).get(kid)
    assert updated is not None
    return _info(updated)


def rotate_key(
    ctx: Context,
    customer_id: str,
    actor: dict[str, Any],
    key_id: str | None = None,
    reason: str = "",
    kind: str = "customer",
) -> RotatedKey:
    """Issue a new key and revoke the old one in one transaction.

    Without ``key_id`` the customer's only active key is rotated; with several active keys
    the caller must name one (ValidationError otherwise).
    """
    with ctx.store.write(ctx.site) as uow:
        if key_id is not None:
            old = _owned_key(uow, customer_id, _key_id(key_id), kind)
            if old.revoked_at is not None:
                raise InvalidStateError(
                    f"key {old.key_id} is revoked; rotate an active key", rule="already_revoked"
                )
        else:
            active = [r for r in _customer_keys(uow, customer_id, kind) if r.revoked_at is None]
            if len(active) != 1:
                raise ValidationError.single(
                    "key_id",
                    "key_id_required",
                    len(active),
                    f"the {kind} has {len(active)} active keys: name the one to rotate",
                )
            old = active[0]
        new = issue_token(
            kind, customer_id, old.role, site=old.site, offices=old.offices, name=old.name
        )
        uow.append(
            [
                new.event,
                revoke_event(old.key_id, actor),
                audit_event(
                    actor,
                    f"{kind}_key.rotated",
                    old.key_id,
                    reason,
                    {kind: customer_id, "new_key_id": new.key_id},
                ),
            ]
        )
    return RotatedKey(customer_id, new.key_id, new.token, old.key_id)


@dataclass(frozen=True)
class CreatedKey:
    info: ApiKeyInfo
    api_key: str  # shown once


def create_key(ctx: Context, customer_id: str, actor: dict[str, Any]) -> CreatedKey:
    """One more API key for the customer (a second system, a key to rotate into);
    NotFoundError for an unknown or erased account."""
    with ctx.store.write(ctx.site) as uow:
        account = uow.repo(CustomerRepository).get(customer_id)
        if account is None or account.erased_at is not None:
            raise NotFoundError(f"no customer {customer_id}")
        token = issue_token("customer", customer_id, Role.CUSTOMER, name=account.name)
        uow.append(
            [
                token.event,
                audit_event(actor, "customer_key.created", token.key_id, "",
                            {"customer": customer_id}),
            ]
        )  # fmt: skip
        record = uow.repo(CredentialRepository).get(token.key_id)
    assert record is not None
    return CreatedKey(_info(record), token.token)
