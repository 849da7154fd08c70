"""Returning an accepted item to its sender from the site (EXX, "export cancelled").

For goods that may not leave (prohibited, or a destination closed for good), or a sender
who asks for the item back before it is bagged. A supervisor or operations lead does it,
with a reason kept for staff (it is never shown to the public, which sees "Returned").
The item must have been accepted at this site and be out of any bag: take it out first.
A held item may be returned too; its hold then no longer counts it.
"""

from __future__ import annotations

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Principal
from postex.items.app.preadvice import ItemRecord
from postex.items.domain.items import ItemState
from postex.kernel.errors import InvalidStateError, NotFoundError
from postex.kernel.ids import S10
from postex.sites.app.ops import SUPERVISING_ROLES, SiteOps, SiteOpsRepository
from postex.sites.domain.receptacles import check_reason
from postex.sites.events import ItemReturnedToSender

RETURNABLE = (ItemState.ACCEPTED, ItemState.HELD)


def return_to_sender(
    ops: SiteOps, p: Principal, site_code: str, item_id: str, reason: object
) -> ItemRecord:
    """Return ``item_id`` to its sender from ``site_code``; the item is ``returned`` after.

    NotFoundError for an item not accepted at this site (another site's is the same as a
    missing one); InvalidStateError for one in a bag, despatched, or gone already.
    """
    site = ops.site(p, site_code, SUPERVISING_ROLES)
    why = check_reason(reason)
    S10.parse(item_id, "item_id")
    with ops.ctx.store.write(site.code) as uow:
        repo = uow.repo(SiteOpsRepository)
        handled = repo.handling([item_id]).get(item_id)
        record = repo.items([item_id]).get(item_id)
        if handled is None or handled.site != site.code or record is None:
            raise NotFoundError(f"no item {item_id} accepted at {site.code}")
        if handled.transfer_to is not None:
            raise InvalidStateError(
                f"item {item_id} is travelling to {handled.transfer_to}: return it from there"
                " once it is scanned in",
                rule="in_transfer",
            )
        state = ItemState(record.state)
        if state is ItemState.HELD and record.held_from not in (None, str(ItemState.ACCEPTED)):
            state = ItemState(record.held_from)
        if state not in RETURNABLE:
            hint = ("take it out of its bag first" if state is ItemState.IN_RECEPTACLE
                    else "only an item still at the site can be returned from it")  # fmt: skip
            raise InvalidStateError(f"item {item_id} is {state}: {hint}", rule=f"state_{state}")
        uow.append([
            ItemReturnedToSender(item_id=item_id, site=site.code, reason=why),
            audit_event(p.actor(), "item.returned_to_sender", item_id, details={"reason": why}),
        ])  # fmt: skip
        return repo.items([item_id])[item_id]
