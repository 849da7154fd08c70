"""Printable documents of a customer's item: the address label and the CN23.

The rendering itself is an adapter (PDF); this module decides what may be printed: only
the owner's item, only while its personal data can be read, never a cancelled item, and a
CN23 only for an item whose customs form is CN23 (a CN22 is printed on the label).
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from postex.eventlog.context import Context
from postex.items.app.preadvice import ItemView, get_item
from postex.items.domain.items import ItemState
from postex.kernel.errors import InvalidStateError
from postex.kernel.reference import customs_rules


class Documents(Protocol):
    def label(self, view: ItemView, printed_on: date) -> bytes:
        """A 4×6 inch PDF label (with the CN22 when the item needs one)."""
        ...

    def cn23(self, view: ItemView, printed_on: date) -> bytes:
        """An A4 PDF CN23 customs declaration."""
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


def item_cn23(ctx: Context, documents: Documents, customer_id: str, item_id: str) -> bytes:
    """The owner's CN23; InvalidStateError (409) when the item needs a CN22 or no form.

    Also for a CN22 item with more lines than a CN22 holds (pre-advised before that rule).
    """
    view = _printable(ctx, customer_id, item_id)
    form = view.record.customs_form
    if form != "CN23" and not _overflows_cn22(view):
        needs = "a CN22, printed on its label" if form == "CN22" else "no customs declaration"
        raise InvalidStateError(
            f"item {item_id} needs {needs}, not a CN23",
            rule="no_cn23",
            customs_form=form,
        )
    return documents.cn23(view, ctx.clock.now().date())
