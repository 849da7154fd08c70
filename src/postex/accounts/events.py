"""Events of accounts: customers, staff users, partners, credentials, keys and the audit trail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from postex.eventlog.catalogue import Event, Upcaster, doc, omit_none

Actor = dict[str, Any]  # who acted: {"kind", "id", "role", "site"?, "ip"?} (Principal.actor())
ACTOR_DOC = "who acted: kind, id, role and, when known, site and ip"


@dataclass(frozen=True, slots=True)
class CustomerCreated(Event):
    """An account opened. v2 seals the name under the customer's own data key, so erasure
    (destroying that key) leaves it unreadable in the log, on the hub and in backups; v1
    held it in clear (:data:`CUSTOMER_CREATED_V1` reads it into ``name``)."""

    TYPE: ClassVar[str] = "customer.created.v2"
    customer_id: str
    sealed_name: str = field(
        metadata=doc("{name} sealed with the vault under the customer's data key (v1: empty)")
    )
    actor: str = field(metadata=doc("the operator (CLI) who opened the account"))
    name: str | None = omit_none("only in bodies read from customer.created.v1: the name in clear")


@dataclass(frozen=True, slots=True)
class CustomerErased(Event):
    TYPE: ClassVar[str] = "customer.erased.v1"
    customer_id: str
    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class CredentialIssued(Event):
    """A bearer token issued. v2 carries no customer's name (v1 copied the account's name
    into ``name`` in clear; :data:`CREDENTIAL_ISSUED_V1` reads it unchanged)."""

    TYPE: ClassVar[str] = "credential.issued.v2"
    key_id: str
    kind: str = field(metadata=doc("customer, staff or partner"))
    subject: str = field(metadata=doc("the customer, user or partner id"))
    role: str
    secret_sha256: str = field(
        metadata=doc("hex SHA-256 of the secret; the secret is never stored")
    )
    site: str | None = field(metadata=doc("clerks and supervisors: the site they act at"))
    offices: list[str] = field(metadata=doc("partners: the IMPC offices they speak for"))
    name: str = field(
        metadata=doc("staff: the username; partners: their name; customers: empty (sealed in "
                     "customer.created.v2)")
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class CredentialRevoked(Event):
    TYPE: ClassVar[str] = "credential.revoked.v1"
    key_id: str
    actor: Actor = field(metadata=doc(ACTOR_DOC))


@dataclass(frozen=True, slots=True)
class UserCreated(Event):
    """A staff user created. v2 holds no password hash: the node keeps it in its own
    ``staff_passwords`` table, never in the log, on the hub or in a backup. v1 held the
    argon2id hash (:data:`USER_CREATED_V1` reads it; the projection moves it to the table)."""

    TYPE: ClassVar[str] = "user.created.v2"
    user_id: str
    username: str
    role: str
    site: str | None
    password_hash: str | None = omit_none(
        "only in bodies read from user.created.v1: the argon2id hash, moved to staff_passwords"
    )


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


def _customer_created_v1(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """v1's clear name is read into ``name``; there is nothing sealed."""
    return {"customer_id": body["customer_id"], "sealed_name": "", "actor": body["actor"],
            "name": body["name"]}  # fmt: skip


def _credential_issued_v1(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The same fields; a customer key's ``name`` is the account's name in clear."""
    return body


def _user_created_v1(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The same fields; ``password_hash`` is moved to ``staff_passwords`` by the projection."""
    return body


CUSTOMER_CREATED_V1 = Upcaster("customer.created.v1", CustomerCreated, _customer_created_v1)
CREDENTIAL_ISSUED_V1 = Upcaster("credential.issued.v1", CredentialIssued, _credential_issued_v1)
USER_CREATED_V1 = Upcaster("user.created.v1", UserCreated, _user_created_v1)
UPCASTERS: tuple[Upcaster, ...] = (CUSTOMER_CREATED_V1, CREDENTIAL_ISSUED_V1, USER_CREATED_V1)

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
