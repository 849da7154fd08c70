"""A customer's API keys: list (prefix only), revoke, rotate.

Keys are credentials (app/auth.py): only a SHA-256 of the secret is ever stored, so a
listing shows the public prefix ``pxk_<key id>`` and dates, never anything that opens the
API. Revoking and rotating are staff actions and leave an audit event in the same
transaction. Rotation issues the new key and revokes the old one atomically: there is no
moment with neither key valid, and none with both valid after the call returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from postex.app.audit import audit_event
from postex.app.auth import CredentialRecord, CredentialRepository, Role, issue_token, revoke_event
from postex.app.context import Context
from postex.app.customers import CustomerRepository
from postex.app.ports import UnitOfWork
from postex.domain.errors import InvalidStateError, NotFoundError, ValidationError


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


def _customer_keys(uow: UnitOfWork, customer_id: str) -> list[CredentialRecord]:
    customer = uow.repo(CustomerRepository).get(customer_id)
    if customer is None:
        raise NotFoundError(f"no customer {customer_id}")
    return [
        r for r in uow.repo(CredentialRepository).for_subject(customer_id) if r.kind == "customer"
    ]


def _owned_key(uow: UnitOfWork, customer_id: str, key_id: str) -> CredentialRecord:
    record = uow.repo(CredentialRepository).get(key_id)
    if record is None or record.kind != "customer" or record.subject != customer_id:
        raise NotFoundError(f"customer {customer_id} has no key {key_id}")
    return record


def _key_id(value: str) -> str:
    """Accept a bare key id or its printed prefix ``pxk_<id>``."""
    text = value.strip()
    if text.startswith("pxk_"):
        text = text[4:]
    if not text or len(text) > 24 or not text.isalnum():
        raise ValidationError.single("key_id", "format", value, "a key id such as 3f9a0c1b2d4e")
    return text


def list_keys(ctx: Context, customer_id: str) -> list[ApiKeyInfo]:
    """Every key the customer ever had, oldest first; NotFoundError for an unknown customer."""
    with ctx.store.read() as uow:
        return [_info(r) for r in _customer_keys(uow, customer_id)]


def revoke_key(
    ctx: Context, customer_id: str, key_id: str, actor: dict[str, Any], reason: str = ""
) -> ApiKeyInfo:
    """Revoke one key now; requests with it get 401 from the next request on.

    NotFoundError if the key is not this customer's; InvalidStateError if already revoked.
    """
    kid = _key_id(key_id)
    with ctx.store.write(ctx.site) as uow:
        record = _owned_key(uow, customer_id, kid)
        if record.revoked_at is not None:
            raise InvalidStateError(
                f"key {kid} was already revoked at {record.revoked_at}", rule="already_revoked"
            )
        uow.append(
            [
                revoke_event(kid, actor),
                audit_event(actor, "customer_key.revoked", kid, reason, {"customer": customer_id}),
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
) -> RotatedKey:
    """Issue a new key and revoke the old one in one transaction.

    Without ``key_id`` the customer's only active key is rotated; with several active keys
    the caller must name one (ValidationError otherwise).
    """
    with ctx.store.write(ctx.site) as uow:
        if key_id is not None:
            old = _owned_key(uow, customer_id, _key_id(key_id))
            if old.revoked_at is not None:
                raise InvalidStateError(
                    f"key {old.key_id} is revoked; rotate an active key", rule="already_revoked"
                )
        else:
            active = [r for r in _customer_keys(uow, customer_id) if r.revoked_at is None]
            if len(active) != 1:
                raise ValidationError.single(
                    "key_id",
                    "key_id_required",
                    len(active),
                    f"the customer has {len(active)} active keys: name the one to rotate",
                )
            old = active[0]
        new = issue_token("customer", customer_id, Role.CUSTOMER, name=old.name)
        uow.append(
            [
                new.event,
                revoke_event(old.key_id, actor),
                audit_event(
                    actor,
                    "customer_key.rotated",
                    old.key_id,
                    reason,
                    {"customer": customer_id, "new_key_id": new.key_id},
                ),
            ]
        )
    return RotatedKey(customer_id, new.key_id, new.token, old.key_id)
