"""Where a site's node finds what a receipt needs (:class:`ReceiptSources` on SQL)."""

from __future__ import annotations

from typing import Any

from postex.eventlog.context import Context
from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.notes import SqlNotes
from postex.eventlog.sql.proofs import SqlProofs
from postex.eventlog.sql.store import SqlStore
from postex.items.app.preadvice import get_item
from postex.kernel.errors import InvalidStateError, NotFoundError
from postex.network.app.receipts import build


class SqlReceiptSources:
    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.notes = SqlNotes(store.engine)
        self.proofs = SqlProofs(store)

    def event(self, site: str, seq: int) -> StoredEvent:
        found = next(iter(self.store.read_events(site, seq - 1, seq, batch=1)), None)
        if found is None:
            raise NotFoundError(f"event {seq} of {site}")
        return found

    def covering_note(self, site: str, seq: int) -> tuple[int, str]:
        """The smallest signed tree head including ``seq``; signed now if none does yet."""
        found = self.notes.covering(site, seq)
        if found is None:
            self.store.checkpoint_now(site)
            found = self.notes.covering(site, seq)
        if found is None:
            raise NotFoundError(f"no signed checkpoint of {site} covers event {seq} yet")
        return found

    def inclusion(self, site: str, seq: int, size: int) -> list[bytes]:
        return self.proofs.inclusion(site, seq, size)[2]

    def item_events(self, site: str, item_id: str) -> list[tuple[str, int]]:
        """The item's pre-advice and acceptance events in ``site``'s log, as (label, seq)."""
        p = self.store.ph
        with self.store.read() as uow:
            advice = uow.conn.exec_driver_sql(
                f"SELECT advice_seq FROM items WHERE id = {p} AND origin_site = {p}",
                (item_id, site),
            ).scalar()
            if advice is None:
                raise NotFoundError(f"no item {item_id}")
            rows = uow.conn.exec_driver_sql(
                f"SELECT seq FROM tracking_events WHERE site = {self.store.ph}"
                f" AND item_id = {self.store.ph} AND code = 'EMA' ORDER BY seq",
                (site, item_id),
            ).all()
        out = [("acceptance", int(r[0])) for r in rows[:1]]
        return [("pre-advice", int(advice)), *out]


def receipt_for(store: SqlStore, ctx: Context, customer_id: str, item_id: str) -> dict[str, Any]:
    """The receipt of a customer's own item in this node's site log (404 otherwise: another
    customer's item, or an item whose pre-advice is in another site's log)."""
    record = get_item(ctx, customer_id, item_id).record
    if record.origin_site != ctx.site:
        raise NotFoundError(f"no item {item_id}")
    src = SqlReceiptSources(store)
    return build(src, item_id, ctx.site, src.item_events(ctx.site, item_id))


def certificate_receipt(
    store: SqlStore, ctx: Context, customer_id: str, item_id: str
) -> dict[str, Any]:
    """The receipt a certificate of posting is printed from; a cancelled item has none."""
    if get_item(ctx, customer_id, item_id).record.state == "cancelled":
        raise InvalidStateError(f"item {item_id} is cancelled: it was not posted",
                                rule="cancelled", state="cancelled")  # fmt: skip
    return receipt_for(store, ctx, customer_id, item_id)
