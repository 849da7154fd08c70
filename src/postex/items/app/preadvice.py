"""Pre-advice, reading and cancelling of a customer's items.

Personal and customs data are sealed under the customer's data key before the event is
built; the log and the projections only ever hold the ciphertext.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from postex.accounts.app.customers import CustomerRepository
from postex.eventlog.catalogue import Event
from postex.eventlog.context import Context
from postex.eventlog.ports import UnitOfWork
from postex.items.domain.items import ItemState, PreAdvice, transition
from postex.items.events import ItemCancelled, ItemPreAdvised
from postex.kernel.errors import (
    ConflictError,
    ForbiddenError,
    KeyUnavailableError,
    NotFoundError,
)
from postex.kernel.ids import S10
from postex.kernel.network import SerialSlot


@dataclass(frozen=True)
class ItemRecord:
    """The items projection row: everything in clear is non-personal."""

    id: str
    customer_id: str
    origin_site: str
    service: str
    state: str
    held_from: str | None
    destination: str
    customs_form: str | None
    has_goods: bool
    weight_g: int
    created_at: str
    updated_at: str
    sealed: str


@dataclass(frozen=True)
class ItemFilter:
    state: str | None = None
    destination: str | None = None
    service: str | None = None
    created_from: str | None = None
    created_to: str | None = None


class ItemRepository(Protocol):
    def get_owned(self, customer_id: str, item_id: str) -> ItemRecord | None:
        """The item if it exists AND belongs to the customer (the query filters by both)."""
        ...

    def get_any(self, item_id: str) -> ItemRecord | None:
        """Unscoped: only for staff use cases and public, non-personal views."""
        ...

    def list_owned(
        self,
        customer_id: str,
        flt: ItemFilter,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[ItemRecord]: ...

    def last_serial(self, prefix: str) -> int | None: ...

    def lock_items(self, item_ids: Sequence[str]) -> None:
        """Hold these items until the write commits, so that another site's writer changing
        them (accepting, cancelling) waits and then reads their new state (a no-op where
        writers are serialised anyway)."""
        ...


class SerialRanges(Protocol):
    def last_serial_between(self, prefix: str, first: int, last: int) -> int | None:
        """The highest serial of an item with ``prefix`` in ``first…last``, if any."""
        ...


AlsoRecord = Callable[[UnitOfWork, list[ItemRecord], Sequence[PreAdvice]], Sequence[Event]]


@dataclass
class ItemView:
    record: ItemRecord
    personal: dict[str, Any] | None  # None when the data key was destroyed (erased)
    extra: dict[str, Any] = field(default_factory=dict)


def aad(customer_id: str, item_id: str) -> str:
    return f"item|{customer_id}|{item_id}"


@contextmanager
def refusing_erased(ctx: Context, customer_id: str) -> Iterator[None]:
    """Name an erased customer's refusal: ForbiddenError (rule ``customer_erased``).

    Erasure destroys the customer's data key, so anything that seals or opens their data
    fails with KeyUnavailableError. Only then is the account looked up (nothing is added
    to the path of a customer who was not erased); another key failure (a missing
    key-encryption key) stays what it is, a server-side 503.
    """
    try:
        yield
    except KeyUnavailableError:
        with ctx.store.read() as uow:
            account = uow.repo(CustomerRepository).get(customer_id)
        if account is not None and account.erased_at is not None:
            raise ForbiddenError(
                "this customer account was erased: its data key is destroyed, so nothing "
                "can be stored or answered for it; do not retry, contact the operator",
                rule="customer_erased",
            ) from None
        raise


def allocate_ids(
    uow: UnitOfWork,
    advices: Sequence[PreAdvice],
    country: str,
    slot: SerialSlot | None = None,
) -> list[S10]:
    """Consecutive serials from each service's block; the write lock makes this safe.

    A site of a network (``slot`` set) issues only from its own part of each block, found
    from the items it holds in that part, so two sites never issue the same id.
    """
    repo = uow.repo(ItemRepository)
    last: dict[str, int] = {}
    highest: dict[str, int] = {}
    ids = []
    for advice in advices:
        svc = advice.service
        prefix = svc.s10_prefix
        if prefix not in last:
            if slot is None:
                first, highest[prefix] = svc.serial_first, svc.serial_last
                found = repo.last_serial(prefix)
            else:
                first, highest[prefix] = slot.block(svc.serial_first, svc.serial_last)
                found = uow.repo(SerialRanges).last_serial_between(prefix, first, highest[prefix])
            last[prefix] = first - 1 if found is None else found
        serial = last[prefix] + 1
        if serial > highest[prefix]:
            where = "services.json" if slot is None else "the network file (serial_slots)"
            raise ConflictError(
                f"serial block of {svc.code} is exhausted; configure a new block in {where}"
            )
        last[prefix] = serial
        ids.append(S10(prefix, serial, country))
    return ids


def pre_advised(
    ctx: Context, uow: UnitOfWork, customer_id: str, item_id: str, advice: PreAdvice
) -> ItemPreAdvised:
    """The pre-advice event of one item, its personal and customs data sealed."""
    return ItemPreAdvised(
        item_id=item_id,
        customer_id=customer_id,
        origin_site=ctx.site,
        service=advice.service.code,
        destination=advice.destination,
        weight_g=advice.weight_g,
        customs_form=advice.customs_form,
        has_goods=advice.contents.has_goods,
        sealed=ctx.vault.seal(uow, customer_id, aad(customer_id, item_id), advice.personal()),
        dimensions_mm=None if advice.dimensions is None else advice.dimensions.to_dict(),
    )


def pre_advise(
    ctx: Context,
    customer_id: str,
    advices: Sequence[PreAdvice],
    also: AlsoRecord | None = None,
) -> list[ItemRecord]:
    """Issue S10 ids and record the items, all in one transaction (all or nothing).

    Export policies (holds) are consulted for every item before anything is written.
    ``also`` may add events of its own (e.g. an idempotency record) to the same
    transaction, or raise to roll everything back.
    """
    with ctx.store.write(ctx.site) as uow:
        for advice in advices:
            ctx.enforce(uow, "pre_advice", advice_subject(ctx, advice))
        ids = allocate_ids(uow, advices, ctx.country, ctx.serial_slot)
        events = [
            pre_advised(ctx, uow, customer_id, str(item_id), advice)
            for item_id, advice in zip(ids, advices, strict=True)
        ]
        stored = uow.append(events)
        records = [record_from_event(e, s.recorded_at) for e, s in zip(events, stored, strict=True)]
        if also is not None:
            uow.append(also(uow, records, advices))
    return records


def record_from_event(event: ItemPreAdvised, recorded_at: str) -> ItemRecord:
    """The projection row a fresh pre-advice event produces (saves a read-back)."""
    return ItemRecord(
        id=event.item_id,
        customer_id=event.customer_id,
        origin_site=event.origin_site,
        service=event.service,
        state=ItemState.PRE_ADVISED,
        held_from=None,
        destination=event.destination,
        customs_form=event.customs_form,
        has_goods=event.has_goods,
        weight_g=event.weight_g,
        created_at=recorded_at,
        updated_at=recorded_at,
        sealed=event.sealed,
    )


def advice_subject(ctx: Context, advice: PreAdvice) -> dict[str, Any]:
    return {
        "service": advice.service.code,
        "destination": advice.destination,
        "site": ctx.site,
        "has_goods": advice.contents.has_goods,
        "customs_form": advice.customs_form,
    }


def get_item(ctx: Context, customer_id: str, item_id: str) -> ItemView:
    """The owner's full view; another customer's item is reported exactly as a missing one."""
    S10.parse(item_id)
    with ctx.store.read() as uow:
        record = uow.repo(ItemRepository).get_owned(customer_id, item_id)
        if record is None:
            raise NotFoundError(f"no item {item_id}")
        try:
            personal = ctx.vault.open(uow, customer_id, aad(customer_id, item_id), record.sealed)
        except KeyUnavailableError:
            personal = None
    return ItemView(record, personal)


def list_items(
    ctx: Context,
    customer_id: str,
    flt: ItemFilter,
    after: tuple[str, str] | None = None,
    limit: int = 50,
) -> list[ItemRecord]:
    with ctx.store.read() as uow:
        return uow.repo(ItemRepository).list_owned(customer_id, flt, after, limit)


def cancel_item(
    ctx: Context, customer_id: str, item_id: str, actor: str = "customer"
) -> ItemRecord:
    """Cancel before acceptance; afterwards the item is already in the post's hands.

    A site may be accepting the item right now (another writer on PostgreSQL): the item is
    locked as acceptance locks it, and its state read only then, so exactly one of the two
    wins and the other is refused by the state rule (409 here, 422 state_cancelled there).
    """
    S10.parse(item_id)
    with ctx.store.write(ctx.site) as uow:
        repo = uow.repo(ItemRepository)
        repo.lock_items([item_id])
        record = repo.get_owned(customer_id, item_id)
        if record is None:
            raise NotFoundError(f"no item {item_id}")
        transition(record.state, ItemState.CANCELLED, item_id)
        uow.append([ItemCancelled(item_id, customer_id, actor)])
        updated = repo.get_owned(customer_id, item_id)
    assert updated is not None
    return updated
