"""Customer accounts: create, list, erase (crypto-shredding of personal data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Role, issue_token
from postex.accounts.events import CustomerCreated, CustomerErased
from postex.eventlog.context import Context, new_id
from postex.kernel import text as text_policy
from postex.kernel.errors import NotFoundError, ValidationError


@dataclass(frozen=True)
class CustomerRecord:
    id: str
    name: str
    created_at: str
    erased_at: str | None


class CustomerRepository(Protocol):
    def get(self, customer_id: str) -> CustomerRecord | None: ...

    def list(self) -> list[CustomerRecord]: ...


@dataclass(frozen=True)
class CreatedCustomer:
    record: CustomerRecord
    api_key: str  # shown once; only its hash is stored
    key_id: str


def name_aad(customer_id: str) -> str:
    """The associated data an account's sealed name is bound to (it opens for no other)."""
    return f"postex.customer.name|{customer_id}"


def create_customer(ctx: Context, name: str, actor: str = "cli") -> CreatedCustomer:
    """Open an account with its own data key and a first API key.

    The name is the account's business name, possibly a sole trader's own: it is sealed
    under the account's data key in ``customer.created.v2`` (and not copied into the API
    key's event), so erasing the account leaves it unreadable in the log everywhere.
    """
    clean = text_policy.clean(name, "name") if isinstance(name, str) else ""
    if not 1 <= len(clean) <= 200:
        raise ValidationError.single("name", "length", name, "a name of 1 to 200 characters")
    customer_id = new_id("cus")
    with ctx.store.write(ctx.site) as uow:
        ctx.vault.create_key(uow, customer_id)
        sealed = ctx.vault.seal(uow, customer_id, name_aad(customer_id), {"name": clean})
        token = issue_token("customer", customer_id, Role.CUSTOMER)
        uow.append(
            [
                CustomerCreated(customer_id=customer_id, sealed_name=sealed, actor=actor),
                token.event,
                audit_event(
                    {"kind": "cli", "id": actor},
                    "customer.created",
                    customer_id,
                    details={"key_id": token.key_id},
                ),
            ]
        )
        record = uow.repo(CustomerRepository).get(customer_id)
    assert record is not None
    return CreatedCustomer(record, token.token, token.key_id)


def list_customers(ctx: Context) -> list[CustomerRecord]:
    with ctx.store.read() as uow:
        return uow.repo(CustomerRepository).list()


def erase_customer(ctx: Context, customer_id: str, actor: str = "cli", reason: str = "") -> None:
    """Destroy the customer's data key: nothing personal of theirs can be read again.

    Items stay publicly trackable and the log still verifies: no stored event changes.
    """
    with ctx.store.write(ctx.site) as uow:
        if uow.repo(CustomerRepository).get(customer_id) is None:
            raise NotFoundError(f"no customer {customer_id}")
        ctx.vault.destroy(uow, customer_id)
        uow.append(
            [
                CustomerErased(customer_id=customer_id, actor=actor, reason=reason),
                audit_event({"kind": "cli", "id": actor}, "customer.erased", customer_id, reason),
            ]
        )
