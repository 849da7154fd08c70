"""Events of accounts: customers, staff users, partners, credentials, keys and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from postex.eventlog.catalogue import Event, doc

Actor = dict[str, Any]  # who acted: {"kind", "id", "role", "site"?, "ip"?} (Principal.actor())
ACTOR_DOC = "who acted: kind, id, role and, when known, site and ip"


@dataclass(frozen=True, slots=True)
class CustomerCreated(Event):
    TYPE: ClassVar[str] = "customer.created.v1"
    customer_id: str
    name: str = field(metadata=doc("the account's display name"))
    actor: str = field(metadata=doc("the operator (CLI) who opened the account"))


@dataclass(frozen=True, slots=True)
class CustomerErased(Event):
    TYPE: ClassVar[str] = "customer.erased.v1"
    customer_id: str
    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class CredentialIssued(Event):
    TYPE: ClassVar[str] = "credential.issued.v1"
    key_id: str
    kind: str = field(metadata=doc("customer, staff or partner"))
    subject: str = field(metadata=doc("the customer, user or partner id"))
    role: str
    secret_sha256: str = field(
        metadata=doc("hex SHA-256 of the secret; the secret is never stored")
    )
    site: str | None = field(metadata=doc("clerks and supervisors: the site they act at"))
    offices: list[str] = field(metadata=doc("partners: the IMPC offices they speak for"))
    name: str


@dataclass(frozen=True, slots=True)
class CredentialRevoked(Event):
    TYPE: ClassVar[str] = "credential.revoked.v1"
    key_id: str
    actor: Actor = field(metadata=doc(ACTOR_DOC))


@dataclass(frozen=True, slots=True)
class UserCreated(Event):
    TYPE: ClassVar[str] = "user.created.v1"
    user_id: str
    username: str
    role: str
    site: str | None
    password_hash: str | None = field(metadata=doc("argon2id hash, or None without a password"))


@dataclass(frozen=True, slots=True)
class PartnerRegistered(Event):
    TYPE: ClassVar[str] = "partner.registered.v1"
    partner_id: str
    name: str
    offices: list[str] = field(metadata=doc("IMPC codes of the partner's offices"))


@dataclass(frozen=True, slots=True)
class KeysRotated(Event):
    TYPE: ClassVar[str] = "keys.rotated.v1"
    kek_id: str = field(metadata=doc("the new key-encryption key's id"))
    data_keys: int = field(metadata=doc("data keys re-wrapped under it"))
    actor: str


@dataclass(frozen=True, slots=True)
class AuditRecorded(Event):
    TYPE: ClassVar[str] = "audit.recorded.v1"
    actor: Actor = field(metadata=doc(ACTOR_DOC))
    action: str = field(metadata=doc("what was done, e.g. hold.placed"))
    target: str = field(metadata=doc("the id it was done to"))
    reason: str
    details: dict[str, Any] = field(metadata=doc("counts and ids, never personal data"))


@dataclass(frozen=True, slots=True)
class StaffDisabled(Event):
    TYPE: ClassVar[str] = "staff.disabled.v1"
    user_id: str
    actor: Actor = field(metadata=doc(ACTOR_DOC))
    reason: str = field(metadata=doc("why, as the admin gave it"))


@dataclass(frozen=True, slots=True)
class StaffEnabled(Event):
    TYPE: ClassVar[str] = "staff.enabled.v1"
    user_id: str
    actor: Actor = field(metadata=doc(ACTOR_DOC))
    reason: str = field(metadata=doc("why, as the admin gave it"))


EVENTS: tuple[type[Event], ...] = (
    CustomerCreated,
    CustomerErased,
    CredentialIssued,
    CredentialRevoked,
    UserCreated,
    PartnerRegistered,
    KeysRotated,
    AuditRecorded,
    StaffDisabled,
    StaffEnabled,
)
