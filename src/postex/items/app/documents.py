"""Printable documents of a customer's item: the address label and the CN23.

The rendering itself is an adapter (PDF); this module decides what may be printed: only
the owner's item, only while its personal data can be read, never a cancelled item, and a
CN23 only for an item whose customs form is CN23 (a CN22 is printed on the label).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from postex.accounts.app.customers import CustomerRepository
from postex.eventlog.chain import format_time
from postex.eventlog.context import Context
from postex.items.app.customer_items import list_customer_items
from postex.items.app.preadvice import ItemFilter, ItemView, get_item
from postex.items.domain.items import ItemState
from postex.kernel.errors import FieldError, InvalidStateError, NotFoundError, ValidationError
from postex.kernel.ids import S10
from postex.kernel.reference import customs_rules

MAX_BATCH = 1000  # labels in one batch PDF
MAX_COLLECTION = 10_000  # items on one day's collection manifest


class Documents(Protocol):
    def label(self, view: ItemView, printed_on: date) -> bytes:
        """A 4×6 inch PDF label (with the CN22 when the item needs one)."""
        ...

    def cn23(self, view: ItemView, printed_on: date) -> bytes:
        """An A4 PDF CN23 customs declaration."""
        ...

    def batch(self, views: Sequence[ItemView], printed_on: date) -> bytes:
        """One PDF: every item's label, then the CN23 of every item whose form is CN23."""
        ...

    def collection(self, sender: str, day: date, views: Sequence[ItemView]) -> bytes:
        """The day's collection manifest: a row and a Code 128 barcode per item."""
        ...


def _printable(ctx: Context, customer_id: str, item_id: str) -> ItemView:
    view = get_item(ctx, customer_id, item_id)
    if view.record.state == ItemState.CANCELLED:
        raise InvalidStateError(f"item {item_id} is cancelled", rule="cancelled", state="cancelled")
    if view.personal is None:
        raise InvalidStateError(
            f"the personal data of item {item_id} was erased; nothing can be printed",
            rule="personal_data_erased",
        )
    return view


def item_label(ctx: Context, documents: Documents, customer_id: str, item_id: str) -> bytes:
    """The owner's label; NotFoundError for anyone else, InvalidStateError if unprintable."""
    view = _printable(ctx, customer_id, item_id)
    return documents.label(view, ctx.clock.now().date())


def _overflows_cn22(view: ItemView) -> bool:
    """A CN22 item pre-advised before the line rule with more lines than a CN22 holds: its
    label's CN22 points to a CN23, so the CN23 is printed for it too."""
    contents = (view.personal or {}).get("contents") or {}
    lines = contents.get("lines") or []
    return view.record.customs_form == "CN22" and len(lines) > customs_rules().cn22_max_lines


def needs_cn23(view: ItemView) -> bool:
    """Whether the item's declaration is (also) a CN23 that must be printed."""
    return view.record.customs_form == "CN23" or _overflows_cn22(view)


def item_cn23(ctx: Context, documents: Documents, customer_id: str, item_id: str) -> bytes:
    """The owner's CN23; InvalidStateError (409) when the item needs a CN22 or no form.

    Also for a CN22 item with more lines than a CN22 holds (pre-advised before that rule).
    """
    view = _printable(ctx, customer_id, item_id)
    form = view.record.customs_form
    if not needs_cn23(view):
        needs = "a CN22, printed on its label" if form == "CN22" else "no customs declaration"
        raise InvalidStateError(
            f"item {item_id} needs {needs}, not a CN23",
            rule="no_cn23",
            customs_form=form,
        )
    return documents.cn23(view, ctx.clock.now().date())


def batch_labels(
    ctx: Context, documents: Documents, customer_id: str, item_ids: Sequence[str]
) -> bytes:
    """One PDF of the owner's labels (and CN23s) in the order given, duplicates once.

    ValidationError for an empty or too long list or a malformed id (field ``ids.N``);
    NotFoundError naming the first id that is not the customer's (another customer's item
    is reported exactly as a missing one); InvalidStateError for a cancelled or erased one.
    Nothing is printed unless every item is printable.
    """
    if not item_ids:
        raise ValidationError.single("ids", "min_items", 0, "give at least one item id")
    if len(item_ids) > MAX_BATCH:
        raise ValidationError.single(
            "ids", "max_items", len(item_ids), f"at most {MAX_BATCH} items in one batch"
        )
    wanted: list[str] = []
    errors: list[FieldError] = []
    for n, raw in enumerate(item_ids):
        text = raw.strip().replace(" ", "").upper() if isinstance(raw, str) else ""
        try:
            S10.parse(text)
        except ValidationError:
            errors.append(FieldError(f"ids.{n}", "s10", raw, "not an S10 item id"))
            continue
        if text not in wanted:
            wanted.append(text)
    if errors:
        raise ValidationError(errors)
    views = [_printable(ctx, customer_id, i) for i in wanted]
    return documents.batch(views, ctx.clock.now().date())


def day_bounds(day: date) -> tuple[str, str]:
    """A calendar day (UTC) as the log's times: from its start, to the next day's start."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return format_time(start), format_time(start + timedelta(days=1))


def collection_items(ctx: Context, customer_id: str, day: date) -> list[ItemView]:
    """The items the customer pre-advised on ``day`` (UTC) and did not cancel: the ones it
    hands in that day, in the order they were made, each in its state now."""
    start, end = day_bounds(day)
    found: list[ItemView] = []
    after: tuple[str, str] | None = None
    while len(found) < MAX_COLLECTION:
        page = list_customer_items(
            ctx, customer_id, ItemFilter(created_from=start, created_to=end), after=after, limit=500
        )
        found.extend(v for v in page if v.record.state != ItemState.CANCELLED)
        if len(page) < 500:
            break
        after = (page[-1].record.created_at, page[-1].record.id)
    return found[:MAX_COLLECTION]


def collection_manifest(ctx: Context, documents: Documents, customer_id: str, day: date) -> bytes:
    """The PDF of :func:`collection_items`; NotFoundError for an unknown account."""
    with ctx.store.read() as uow:
        account = uow.repo(CustomerRepository).get(customer_id)
    if account is None:
        raise NotFoundError(f"no customer {customer_id}")
    return documents.collection(account.name, day, collection_items(ctx, customer_id, day))
