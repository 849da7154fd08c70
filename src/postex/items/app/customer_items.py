"""The business customer's use cases over its items: create, list, read, timeline.

Pre-advice goes through :func:`postex.items.app.preadvice.pre_advise` (export holds apply); this
module adds, in the same transaction, the idempotency record and a blind index of the
customer's references so that ``?reference=`` can search sealed data. Every query names
the customer: another customer's item is never loaded, so it cannot leak by mistake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from postex.eventlog.catalogue import Event
from postex.eventlog.context import Context
from postex.eventlog.ports import UnitOfWork
from postex.items.app.idempotency import (
    AlreadyAnswered,
    Idempotency,
    answer_event,
    guard,
    open_answer,
)
from postex.items.app.preadvice import (
    ItemFilter,
    ItemRecord,
    ItemRepository,
    ItemView,
    aad,
    pre_advise,
    refusing_erased,
)
from postex.items.app.timeline import TrackingRow
from postex.items.domain.items import PreAdvice
from postex.items.events import ItemReferencesIndexed
from postex.kernel import text as text_policy
from postex.kernel.errors import KeyUnavailableError, NotFoundError
from postex.kernel.ids import S10

REFERENCE_PURPOSE = "item-reference"
Render = Callable[[list[ItemRecord], Sequence[PreAdvice]], dict[str, Any]]


class CustomerItemQueries(Protocol):
    def list_owned(
        self,
        customer_id: str,
        flt: ItemFilter,
        reference_index: str | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[ItemRecord]:
        """The customer's items in (created_at, id) order after the cursor."""
        ...

    def timeline_owned(self, customer_id: str, item_id: str) -> list[TrackingRow]:
        """The item's tracking events if the item is the customer's, else nothing."""
        ...


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def reference_index(ctx: Context, uow: UnitOfWork, customer_id: str, reference: str) -> str:
    """The blind index of a reference: stored ones are NFC (kernel.text), so a search is too."""
    clean = text_policy.normalise(reference).strip()
    return ctx.vault.blind_index(uow, customer_id, REFERENCE_PURPOSE, clean)


def create_items(
    ctx: Context,
    customer_id: str,
    advices: Sequence[PreAdvice],
    render: Render,
    idem: Idempotency | None = None,
    status: int = 201,
) -> Answer:
    """Pre-advise ``advices`` (all or nothing) and answer with ``render``'s body.

    With an idempotency key, a key already answered returns that first answer instead
    (``replayed``), and one used for another request raises ConflictError. An erased
    customer gets ForbiddenError (rule ``customer_erased``).
    """

    def also(uow: UnitOfWork, records: list[ItemRecord], advs: Sequence[PreAdvice]) -> list[Event]:
        if idem is not None:
            guard(ctx, uow, customer_id, idem)
        events: list[Event] = []
        entries = [
            [r.id, reference_index(ctx, uow, customer_id, a.reference)]
            for r, a in zip(records, advs, strict=True)
            if a.reference
        ]
        if entries:
            events.append(ItemReferencesIndexed(customer_id, entries))
        if idem is not None:
            events.append(answer_event(ctx, uow, customer_id, idem, status, render(records, advs)))
        return events

    with refusing_erased(ctx, customer_id):
        try:
            records = pre_advise(ctx, customer_id, advices, also=also)
        except AlreadyAnswered as raced:
            assert idem is not None
            with ctx.store.read() as uow:
                replay = open_answer(ctx, uow, customer_id, idem, raced.answer)
            return Answer(replay.status, replay.body, replayed=True)
    return Answer(status, render(records, advices))


def open_personal(ctx: Context, uow: UnitOfWork, record: ItemRecord) -> dict[str, Any] | None:
    try:
        return ctx.vault.open(
            uow, record.customer_id, aad(record.customer_id, record.id), record.sealed
        )
    except KeyUnavailableError:
        return None


def list_customer_items(
    ctx: Context,
    customer_id: str,
    flt: ItemFilter,
    reference: str | None = None,
    after: tuple[str, str] | None = None,
    limit: int = 50,
) -> list[ItemView]:
    """One page of the customer's own items, with their sealed data opened."""
    with ctx.store.read() as uow:
        index = None
        if reference is not None:
            try:
                index = reference_index(ctx, uow, customer_id, reference)
            except KeyUnavailableError:
                return []
        rows = uow.repo(CustomerItemQueries).list_owned(customer_id, flt, index, after, limit)
        return [ItemView(r, open_personal(ctx, uow, r)) for r in rows]


def item_timeline(ctx: Context, customer_id: str, item_id: str) -> list[TrackingRow]:
    """Every tracking event of the customer's item; NotFoundError for anyone else's."""
    S10.parse(item_id)
    with ctx.store.read() as uow:
        if uow.repo(ItemRepository).get_owned(customer_id, item_id) is None:
            raise NotFoundError(f"no item {item_id}")
        return uow.repo(CustomerItemQueries).timeline_owned(customer_id, item_id)
