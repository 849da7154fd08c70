"""Acceptance: items handed in at a site are checked against their pre-advice and recorded.

One call takes one scan or a batch; a batch is all or nothing and is written in one
transaction (one event per item), to the log of the site where the items were scanned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Principal
from postex.eventlog.catalogue import Event
from postex.items.app.preadvice import ItemRecord, ItemRepository
from postex.items.domain.items import ItemState
from postex.kernel.errors import FieldError, HeldError, ValidationError
from postex.kernel.ids import S10
from postex.kernel.reference import services
from postex.sites.app.ops import SITE_ROLES, SiteOps, SiteOpsRepository
from postex.sites.domain.receptacles import weight_error
from postex.sites.domain.transfers import handled_at
from postex.sites.events import ItemAccepted, ItemArrivedAtExchange

WHY_NOT = {
    ItemState.CANCELLED: "the sender cancelled it: return it to the sender",
    ItemState.ACCEPTED: "it was accepted already: put it with the accepted items",
    ItemState.IN_RECEPTACLE: "it is in a receptacle already",
    ItemState.DESPATCHED: "it was despatched already",
    ItemState.IN_TRANSIT: "it has left already",
    ItemState.DELIVERED: "it was delivered already",
    ItemState.RETURNED: "it was returned already",
}


@dataclass(frozen=True)
class Scan:
    item_id: str
    weight_g: int


@dataclass(frozen=True)
class Accepted:
    item_id: str
    site: str
    weight_g: int
    events: tuple[str, ...]


def item_subject(record: ItemRecord, site: str) -> dict[str, Any]:
    """What export policies (holds) look at for one item at a site."""
    return {
        "service": record.service,
        "destination": record.destination,
        "site": site,
        "has_goods": record.has_goods,
        "customs_form": record.customs_form,
        "item_id": record.id,
    }


def _problems(
    ops: SiteOps, scan: object, record: ItemRecord | None, seen: set[str]
) -> list[FieldError]:
    if not isinstance(scan, Scan):
        return [FieldError("", "type", scan, "a scan is {item_id, weight_g}")]
    if record is None:
        return [
            FieldError(
                "item_id",
                "unknown_item",
                scan.item_id,
                "no pre-advice for this item: refuse it and ask the sender to pre-advise it",
            )
        ]
    if scan.item_id in seen:
        return [FieldError("item_id", "duplicate", scan.item_id, "scanned twice in this batch")]
    seen.add(scan.item_id)
    state = ItemState(record.state)
    if state is not ItemState.PRE_ADVISED:
        why = WHY_NOT.get(state, "")
        return [FieldError("item_id", f"state_{state}", scan.item_id, f"item is {state}: {why}")]
    errors = []
    if record.has_goods and record.customs_form is None:
        errors.append(
            FieldError(
                "item_id",
                "customs_data",
                scan.item_id,
                "goods without a customs declaration: the sender must pre-advise again",
            )
        )
    mail_class = services().get(record.service).mail_class
    try:
        ops.network.route(record.destination, mail_class)
    except ValidationError as exc:
        errors.extend(e.at("item_id") for e in exc.errors)
    bad_weight = weight_error(record.weight_g, scan.weight_g, ops.rules.weight_tolerance_pct)
    if bad_weight is not None:
        errors.append(bad_weight)
    return errors


def _where_handled(
    repo: SiteOpsRepository, errors: list[FieldError], here: str
) -> list[FieldError]:
    """Say where an item accepted elsewhere is handled (another site, or the survivor a
    failover moved it to), so a clerk at a restored lost site knows not to touch it."""
    ids = [str(e.value) for e in errors if e.rule in _HANDLED and isinstance(e.value, str)]
    handling = repo.handling(ids) if ids else {}
    out = []
    for e in errors:
        h = handling.get(str(e.value)) if e.rule in _HANDLED else None
        if h is not None and h.site != here:
            out.append(FieldError(e.field, e.rule, e.value, handled_at(e.message, h.site, here)))
        else:
            out.append(e)
    return out


_HANDLED = frozenset({"state_accepted", "state_in_receptacle", "state_despatched"})


def accept(ops: SiteOps, p: Principal, site_code: str, scans: Sequence[Scan]) -> list[Accepted]:
    """Accept items at a site: EMA for each, and EMB too where the site exchanges mail.

    Refuses the whole batch, writing nothing, if any item is unknown, not pre-advised (already
    accepted, cancelled …), held, lacks the customs data its destination needs, has no route,
    or weighs outside the tolerance; a hold covering an item raises HeldError.
    """
    site = ops.site(p, site_code, SITE_ROLES)
    if not scans:
        raise ValidationError.single("scans", "required", [], "send at least one scan")
    if len(scans) > ops.rules.max_batch:
        raise ValidationError.single(
            "scans", "max_items", len(scans), f"at most {ops.rules.max_batch} scans per call"
        )
    for i, scan in enumerate(scans):
        if isinstance(scan, Scan):
            try:
                S10.parse(scan.item_id)
            except ValidationError as exc:
                raise exc.nested(f"scans[{i}]") if len(scans) > 1 else exc from None
    with ops.ctx.store.write(site.code) as uow:
        repo = uow.repo(SiteOpsRepository)
        # Another site may be scanning the same item right now: lock, then read its state.
        uow.repo(ItemRepository).lock_items([s.item_id for s in scans])
        records = repo.items([s.item_id for s in scans])
        held = [r.id for r in records.values() if r.state == ItemState.HELD]
        if held:
            raise HeldError(
                f"item {held[0]} is held by an export hold: set it aside until the hold is"
                " released",
                item_id=held[0],
                rule="item_held",
            )
        errors: list[FieldError] = []
        seen: set[str] = set()
        for i, scan in enumerate(scans):
            found = _problems(ops, scan, records.get(scan.item_id), seen)
            errors.extend(e.at(f"scans[{i}]") if len(scans) > 1 else e for e in found)
        if errors:
            raise ValidationError(_where_handled(repo, errors, site.code))
        for scan in scans:
            ops.ctx.enforce(uow, "acceptance", item_subject(records[scan.item_id], site.code))
        # All EMAs, then all EMBs: projections write each run of one type in one batch.
        events: list[Event] = [
            ItemAccepted(scan.item_id, site.code, scan.weight_g, records[scan.item_id].weight_g)
            for scan in scans
        ]
        if site.is_office_of_exchange:
            events += [ItemArrivedAtExchange(scan.item_id, site.code) for scan in scans]
        events.append(
            audit_event(p.actor(), "items.accepted", site.code, details={"count": len(scans)})
        )
        uow.append(events)
    codes = ("EMA", "EMB") if site.is_office_of_exchange else ("EMA",)
    return [Accepted(s.item_id, site.code, s.weight_g, codes) for s in scans]
