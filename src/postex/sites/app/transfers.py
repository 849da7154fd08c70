"""Transfers between sites: an accepted item whose route leaves from another of our sites
is sent there (``item.transferred_out.v1``, EMK at the sender) and scanned in on arrival
(``item.transfer_received.v1``, EMB at the receiver), which makes it baggable there.

Each call is a batch, all or nothing, written to the log of the site that acts; the other
site learns of it through fan-out (every node follows every other node's log).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Principal
from postex.eventlog.catalogue import Event
from postex.items.app.preadvice import ItemRepository
from postex.items.domain.items import ItemState
from postex.kernel.errors import FieldError, HeldError, ValidationError
from postex.kernel.ids import S10
from postex.kernel.network import Site
from postex.kernel.reference import services
from postex.sites.app.ops import SITE_ROLES, SiteOps, SiteOpsRepository
from postex.sites.domain.transfers import ROUTE, receive_problem, transfer_problem
from postex.sites.events import ItemTransferReceived, ItemTransferredOut


@dataclass(frozen=True)
class Transferred:
    item_id: str
    from_site: str
    to_site: str
    event: str  # the tracking code recorded: EMK when sent, EMB when received


def _ids(ops: SiteOps, item_ids: Sequence[str]) -> list[str]:
    if not item_ids or len(item_ids) > ops.rules.max_batch:
        raise ValidationError.single(
            "item_ids", "count", len(item_ids), f"send 1 to {ops.rules.max_batch} item ids"
        )
    out: list[str] = []
    for i, raw in enumerate(item_ids):
        item_id = raw.replace(" ", "").upper() if isinstance(raw, str) else raw
        try:
            S10.parse(item_id)
        except ValidationError as exc:
            raise exc.nested(f"item_ids[{i}]") from None
        if item_id in out:
            raise ValidationError.single(f"item_ids[{i}]", "duplicate", item_id, "listed twice")
        out.append(item_id)
    return out


def _other_site(ops: SiteOps, here: Site, to_site: object) -> Site:
    if not isinstance(to_site, str) or to_site not in {s.code for s in ops.network.sites}:
        raise ValidationError.single(
            "to_site", "unknown_site", to_site, "to_site is one of our sites' codes, e.g. GBLALA"
        )
    if to_site == here.code:
        raise ValidationError.single(
            "to_site", "same_site", to_site, "an item is transferred to another site"
        )
    return ops.network.site(to_site)


def transfer_out(
    ops: SiteOps, p: Principal, site_code: str, to_site: object, item_ids: Sequence[str]
) -> list[Transferred]:
    """Send accepted items from ``site_code`` to ``to_site``, where their route leaves from.

    Refused, writing nothing: an unknown, held, bagged or not-accepted item, one at another
    site or travelling already, one whose route leaves from here or from a third site.
    """
    here = ops.site(p, site_code, SITE_ROLES)
    target = _other_site(ops, here, to_site)
    ids = _ids(ops, item_ids)
    with ops.ctx.store.write(here.code) as uow:
        uow.repo(ItemRepository).lock_items(ids)
        repo = uow.repo(SiteOpsRepository)
        items, handling = repo.items(ids), repo.handling(ids)
        held = [i for i in ids if i in items and items[i].state == ItemState.HELD]
        if held:
            raise HeldError(
                f"item {held[0]} is held: it may not leave {here.code} until the hold is released",
                item_id=held[0],
                rule="item_held",
            )
        errors: list[FieldError] = []
        for i, item_id in enumerate(ids):
            item, h = items.get(item_id), handling.get(item_id)
            origin = None
            if item is not None:
                mail_class = services().get(item.service).mail_class
                try:
                    origin = ops.network.route(item.destination, mail_class).origin
                except ValidationError:
                    origin = None
            found = transfer_problem(
                item_id,
                str(item.state) if item else None,
                h.site if h else None,
                h.transfer_to if h else None,
                here.code,
                target.code,
                origin,
            )
            if found is not None:
                errors.append(found.at(f"item_ids[{i}]"))
        if errors:
            raise ValidationError(errors)
        events: list[Event] = [ItemTransferredOut(i, here.code, target.code, ROUTE) for i in ids]
        events.append(
            audit_event(
                p.actor(),
                "items.transferred_out",
                here.code,
                details={"to_site": target.code, "count": len(ids), "item_ids": ids[:50]},
            )
        )
        uow.append(events)
    return [Transferred(i, here.code, target.code, "EMK") for i in ids]


def receive(
    ops: SiteOps, p: Principal, site_code: str, item_ids: Sequence[str]
) -> list[Transferred]:
    """Scan in items transferred to ``site_code``: from now on they are bagged here.

    Refused, writing nothing: an unknown item or one no site sent here.
    """
    here = ops.site(p, site_code, SITE_ROLES)
    ids = _ids(ops, item_ids)
    with ops.ctx.store.write(here.code) as uow:
        uow.repo(ItemRepository).lock_items(ids)
        repo = uow.repo(SiteOpsRepository)
        items, handling = repo.items(ids), repo.handling(ids)
        errors: list[FieldError] = []
        for i, item_id in enumerate(ids):
            item, h = items.get(item_id), handling.get(item_id)
            found = receive_problem(
                item_id, str(item.state) if item else None, h.transfer_to if h else None, here.code
            )
            if found is not None:
                errors.append(found.at(f"item_ids[{i}]"))
        if errors:
            raise ValidationError(errors)
        senders = {i: handling[i].site for i in ids}
        events: list[Event] = [ItemTransferReceived(i, here.code, senders[i]) for i in ids]
        events.append(
            audit_event(
                p.actor(),
                "items.transfer_received",
                here.code,
                details={"count": len(ids), "item_ids": ids[:50]},
            )
        )
        uow.append(events)
    return [Transferred(i, senders[i], here.code, "EMB") for i in ids]
