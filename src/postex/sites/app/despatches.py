"""Despatches: compose closed receptacles, close (bill, PREDES, ITMATT), hand over (CARDIT);
a supervisor may take a bag out of a composed despatch, with a reason.

Despatch numbers are gapless per series and year: they are taken inside the site's write
transaction, which holds the site's single-writer lock.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Principal
from postex.eventlog.ports import UnitOfWork
from postex.items.app.preadvice import ItemRecord, aad
from postex.items.domain.items import ItemState, transition
from postex.kernel.dispatch_ids import ReceptacleId
from postex.kernel.errors import (
    ConflictError,
    FieldError,
    HeldError,
    InvalidStateError,
    NotFoundError,
    ValidationError,
)
from postex.kernel.zones import country_zones
from postex.sites.app.acceptance import item_subject
from postex.sites.app.ops import (
    READING_ROLES,
    SUPERVISING_ROLES,
    DespatchRecord,
    MessageRecord,
    Position,
    ReceptacleRecord,
    SiteOps,
    SiteOpsRepository,
    Transport,
    check_listing,
)
from postex.sites.app.receptacles import number
from postex.sites.domain.despatches import (
    DespatchState,
    advance,
    bill_form,
    check_composition,
    next_serial,
)
from postex.sites.domain.receptacles import ReceptacleState, check_reason
from postex.sites.events import (
    DespatchClosed,
    DespatchComposed,
    DespatchHandedOver,
    DespatchMessageWritten,
    DespatchReceptacleRemoved,
)

# An ITMATT part holds at most this many items, so that no event outgrows a replication
# message (NATS allows 1 MB by default; a sealed item is about 2 KB).
ITMATT_MAX_ITEMS = 200
FLIGHT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def itmatt_aad(despatch_id: str, customer_id: str) -> str:
    return f"itmatt|{despatch_id}|{customer_id}"


def _find(uow: UnitOfWork, site: str, ref: object) -> ReceptacleRecord | None:
    repo = uow.repo(SiteOpsRepository)
    if isinstance(ref, str) and len(ref) == 29:
        found = repo.receptacle_by_s9(ref)
        return found if found and found.site == site else None
    return repo.receptacle(site, ref) if isinstance(ref, str) else None


def compose(ops: SiteOps, p: Principal, site_code: str, refs: Sequence[str]) -> DespatchRecord:
    """Make a despatch of closed receptacles (ids or S9s) of one pending despatch.

    Refused: unknown or open receptacles, receptacles already despatched, of different
    series, or a list that leaves out closed receptacles numbered into the same despatch.
    """
    site = ops.site(p, site_code, SUPERVISING_ROLES)
    if not refs or len(refs) > 999:
        raise ValidationError.single(
            "receptacle_ids", "count", len(refs or []), "list 1 to 999 closed receptacles"
        )
    with ops.ctx.store.write(site.code) as uow:
        repo = uow.repo(SiteOpsRepository)
        records: list[ReceptacleRecord] = []
        errors: list[FieldError] = []
        for i, ref in enumerate(refs):
            r = _find(uow, site.code, ref)
            if r is None:
                errors.append(
                    FieldError(
                        f"receptacle_ids[{i}]",
                        "unknown_receptacle",
                        ref,
                        f"no receptacle {ref} at {site.code}",
                    )
                )
            elif r.state != ReceptacleState.CLOSED:
                hint = (
                    "close it first" if r.state == "open"
                    else "it was abandoned when its site failed over"
                    if r.state == ReceptacleState.ABANDONED
                    else f"it is in {r.despatch_id}"
                )  # fmt: skip
                errors.append(
                    FieldError(
                        f"receptacle_ids[{i}]",
                        f"state_{r.state}",
                        ref,
                        f"receptacle is {r.state}: {hint}",
                    )
                )
            else:
                records.append(r)
        if not errors and len({r.id for r in records}) != len(records):
            errors.append(FieldError("receptacle_ids", "duplicate", list(refs), "listed twice"))
        if errors:
            raise ValidationError(errors)
        s9s = [ReceptacleId.parse(r.s9) for r in records]
        d = s9s[0].despatch
        key = (d.destination, d.category, d.subclass)
        pending = repo.pending(site.code, key, d.year_digit, d.serial)
        listed = {r.id for r in records}
        check_composition(s9s, [str(x.s9) for x in pending if x.id not in listed])
        if d.serial != next_serial(repo.last_despatch_serial(site.code, key, d.year_digit)):
            raise ConflictError(f"despatch {d} exists already", rule="despatch_exists")
        composed = DespatchComposed(
            despatch_id=str(d),
            site=site.code,
            destination=d.destination,
            category=d.category,
            subclass=d.subclass,
            year_digit=d.year_digit,
            serial=d.serial,
            form=bill_form(d.subclass),
            receptacle_ids=[r.id for r in records],
            item_count=sum(r.item_count for r in records),
            gross_weight_g=sum(r.gross_weight_g or 0 for r in records),
        )
        uow.append([composed, audit_event(p.actor(), "despatch.composed", str(d))])
        return _get(uow, site.code, str(d))


@dataclass(frozen=True)
class TakenOut:
    """A bag taken out of a composed despatch, and what is left of the despatch."""

    despatch: DespatchRecord
    receptacle: ReceptacleRecord


def take_out(
    ops: SiteOps, p: Principal, site_code: str, did: str, rid: str, reason: object
) -> TakenOut:
    """Take a bag out of a composed despatch that is not closed yet (supervisors and ops).

    The bag is closed and free again: it is numbered into the next despatch of its series
    (a new S9 id; print its CN35 again), so it can be composed again, or reopened to take a
    held item out. The despatch keeps its other bags (their serials keep the gap: their
    labels are printed); a despatch left without a bag is cancelled and its number stays
    used. Refused: a despatch that is closed already, a bag not in it, a reason missing.
    """
    site = ops.site(p, site_code, SUPERVISING_ROLES)
    why = check_reason(reason)
    with ops.ctx.store.write(site.code) as uow:
        repo = uow.repo(SiteOpsRepository)
        d = _get(uow, site.code, did)
        r = repo.receptacle(site.code, rid) if isinstance(rid, str) else None
        if r is None or r.despatch_id != d.id:
            raise NotFoundError(f"no receptacle {rid} in despatch {did}")
        if d.state != DespatchState.OPEN:
            raise InvalidStateError(
                f"despatch {d.id} is {d.state}: only a composed despatch that is not closed"
                " can be taken apart",
                rule="despatch_state",
                state=str(d.state),
            )
        assert r.s9 is not None and r.gross_weight_g is not None
        old = ReceptacleId.parse(r.s9)
        free = replace(r, despatch_id=None, state=ReceptacleState.CLOSED)
        s9 = number(ops, uow, free, None, bool(old.registered), r.gross_weight_g)
        uow.append(
            [
                DespatchReceptacleRemoved(
                    despatch_id=d.id,
                    site=site.code,
                    receptacle_id=r.id,
                    reason=why,
                    item_count=r.item_count,
                    gross_weight_g=r.gross_weight_g,
                    cancelled=d.receptacle_count <= 1,
                    s9=str(s9),
                    year_digit=s9.despatch.year_digit,
                    despatch_serial=s9.despatch.serial,
                    receptacle_serial=s9.receptacle_serial,
                ),
                audit_event(
                    p.actor(),
                    "despatch.receptacle_removed",
                    d.id,
                    details={"receptacle_id": r.id, "s9": str(s9), "reason": why},
                ),
            ]
        )
        return TakenOut(_get(uow, site.code, d.id), _receptacle(uow, site.code, r.id))


@dataclass(frozen=True)
class Pending:
    """Closed bags numbered into the next despatch of one series: what may be composed."""

    despatch_id: str
    destination: str
    category: str
    subclass: str
    receptacles: list[ReceptacleRecord]


def pending_despatches(ops: SiteOps, p: Principal, site_code: str) -> list[Pending]:
    """The site's closed bags not in a despatch, grouped by the despatch their S9 names."""
    site = ops.site(p, site_code, READING_ROLES)
    with ops.ctx.store.read() as uow:
        closed = uow.repo(SiteOpsRepository).receptacles(site.code, ReceptacleState.CLOSED)
    groups: dict[str, list[ReceptacleRecord]] = defaultdict(list)
    for r in closed:
        if r.s9:
            groups[r.s9[:20]].append(r)
    return [
        Pending(did, rs[0].destination, rs[0].category, rs[0].subclass,
                sorted(rs, key=lambda r: str(r.s9)))
        for did, rs in sorted(groups.items())
    ]  # fmt: skip


def _receptacle(uow: UnitOfWork, site: str, rid: str) -> ReceptacleRecord:
    found = uow.repo(SiteOpsRepository).receptacle(site, rid)
    assert found is not None
    return found


def _get(uow: UnitOfWork, site: str, did: str) -> DespatchRecord:
    found = uow.repo(SiteOpsRepository).despatch(site, did)
    if found is None:
        raise NotFoundError(f"no despatch {did} at {site}")
    return found


def site_zone(site: str) -> ZoneInfo:
    """The time zone a site's clocks show (its country's principal zone)."""
    return ZoneInfo(country_zones().get(site[:2], ("UTC",))[0])


def _departure(day: date, text: object, site: str) -> datetime | FieldError | None:
    """``HH:MM`` (24-hour, the site's local time) on ``day``; None when not given."""
    if text is None or text == "":
        return None
    parsed = None
    if isinstance(text, str):
        with contextlib.suppress(ValueError):
            parsed = time.fromisoformat(text.strip())
    if parsed is None or parsed.tzinfo is not None:
        return FieldError("departure_time", "format", text,
                          "the scheduled departure as HH:MM, the site's local time")  # fmt: skip
    return datetime.combine(day, parsed.replace(second=0, microsecond=0), tzinfo=site_zone(site))


def transport(
    carrier: object, flight: object, flight_date: object, departure: object = None,
    site: str = "GB",
) -> Transport:  # fmt: skip
    """A checked carrier, flight number, date and (optional) departure time at ``site``
    (ValidationError naming each wrong field)."""
    errors = []
    if not isinstance(carrier, str) or len(carrier) != 2 or not set(carrier) <= FLIGHT_CHARS:
        errors.append(FieldError("carrier", "format", carrier, "an IATA airline code, e.g. BA"))
    if not isinstance(flight, str) or not 3 <= len(flight) <= 8 or not set(flight) <= FLIGHT_CHARS:
        errors.append(FieldError("flight", "format", flight, "a flight number such as BA0117"))
    day = flight_date if isinstance(flight_date, date) else None
    if isinstance(flight_date, str):
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(flight_date)
    if day is None:
        errors.append(FieldError("flight_date", "format", flight_date, "a date YYYY-MM-DD"))
    departs = _departure(day, departure, site) if day is not None else None
    if isinstance(departs, FieldError):
        errors.append(departs)
    if errors:
        raise ValidationError(errors)
    assert isinstance(carrier, str) and isinstance(flight, str) and day is not None
    assert not isinstance(departs, FieldError)
    return Transport(carrier, flight, day, departs)


def _items(uow: UnitOfWork, ops: SiteOps, d: DespatchRecord, target: ItemState) -> list[ItemRecord]:
    repo = uow.repo(SiteOpsRepository)
    ids = [h.item_id for h in repo.despatch_items(d.id)]
    records = repo.items(ids)
    items = [records[i] for i in ids]
    held = [i.id for i in items if i.state == ItemState.HELD]
    if held:
        raise HeldError(
            f"item {held[0]} of despatch {d.id} is held: take its receptacle out"
            " or wait for the release",
            item_id=held[0],
            rule="item_held",
        )
    for item in items:
        transition(item.state, target, item.id)
        ops.ctx.enforce(uow, "despatch", item_subject(item, d.site))
    return items


def _message(
    d: DespatchRecord, kind: str, part: int, content: str, customer_id: str | None
) -> DespatchMessageWritten:
    return DespatchMessageWritten(
        despatch_id=d.id,
        site=d.site,
        kind=kind,
        part=f"{part:03d}",
        customer_id=customer_id,
        content=content,
        sealed=customer_id is not None,
    )


def _itmatt(
    ops: SiteOps, uow: UnitOfWork, d: DespatchRecord, items: list[ItemRecord], now: str
) -> list[DespatchMessageWritten]:
    """ITMATT per customer (at most ITMATT_MAX_ITEMS items each), sealed under its data key."""
    by_customer: dict[str, list[tuple[ItemRecord, dict[str, Any]]]] = defaultdict(list)
    for item in items:
        if item.has_goods:
            personal = ops.ctx.vault.open(
                uow, item.customer_id, aad(item.customer_id, item.id), item.sealed
            )
            by_customer[item.customer_id].append((item, personal))
    out: list[DespatchMessageWritten] = []
    for customer_id, group in sorted(by_customer.items()):
        for i in range(0, len(group), ITMATT_MAX_ITEMS):
            n = len(out) + 1
            xml = ops.docs.itmatt(
                group[i : i + ITMATT_MAX_ITEMS],
                d.site,
                d.destination,
                f"ITMATT-{d.id}-{n:03d}",
                now,
            )
            sealed = ops.ctx.vault.seal(
                uow, customer_id, itmatt_aad(d.id, customer_id), {"xml": xml.decode()}
            )
            out.append(_message(d, "itmatt", n, sealed, customer_id))
    return out


def close_despatch(
    ops: SiteOps,
    p: Principal,
    site_code: str,
    did: str,
    carrier: object,
    flight: object,
    flight_date: object,
    departure_time: object = None,
) -> DespatchRecord:
    """Close an open despatch for a planned flight: items despatched, PREDES and ITMATT written.

    ITMATT carries the decrypted customs and addressee data; it is stored sealed under each
    customer's data key: one message per customer and up to ITMATT_MAX_ITEMS items. Each
    message is an event of its own.
    """
    site = ops.site(p, site_code, SUPERVISING_ROLES)
    plan = transport(carrier, flight, flight_date, departure_time, site.code)
    with ops.ctx.store.write(site.code) as uow:
        repo = uow.repo(SiteOpsRepository)
        d = _get(uow, site.code, did)
        advance(d.id, d.state, DespatchState.CLOSED)
        receptacles = repo.receptacles(site.code, despatch_id=d.id)
        gone = [r.id for r in receptacles if r.state == ReceptacleState.ABANDONED]
        if gone:
            raise InvalidStateError(
                f"receptacle {gone[0]} of despatch {d.id} was abandoned when {site.code} failed"
                " over: this despatch is never closed; the survivor despatches its items",
                rule="receptacle_abandoned", field="despatch_id", value=d.id,
            )  # fmt: skip
        items = _items(uow, ops, d, ItemState.DESPATCHED)
        contents = [(r, [h.item_id for h in repo.receptacle_items(r.id)]) for r in receptacles]
        now = ops.ctx.now_text()
        predes = ops.docs.predes(d, contents, plan, f"PREDES-{d.id}", now)
        uow.append(
            [
                _movement(DespatchClosed, d, plan, items),
                _message(d, "predes", 1, predes.decode(), None),
                *_itmatt(ops, uow, d, items, now),
                audit_event(p.actor(), "despatch.closed", d.id, details={"flight": plan.flight}),
            ]
        )
        return _get(uow, site.code, d.id)


Movement = TypeVar("Movement", DespatchClosed, DespatchHandedOver)


def _movement(
    event: type[Movement], d: DespatchRecord, plan: Transport, items: Sequence[ItemRecord]
) -> Movement:
    """A despatch's close or handover: its flight and the items it moves."""
    return event(
        despatch_id=d.id,
        site=d.site,
        carrier=plan.carrier,
        flight=plan.flight,
        flight_date=plan.flight_date.isoformat(),
        item_ids=[i.id for i in items],
        departs_at=plan.departs_at.isoformat() if plan.departs_at else None,
    )


def hand_over(
    ops: SiteOps,
    p: Principal,
    site_code: str,
    did: str,
    carrier: object,
    flight: object,
    flight_date: object,
    departure_time: object = None,
) -> DespatchRecord:
    """Hand a closed despatch to the carrier: CARDIT written (with the departure time given
    now, or at closing for the same flight), EMC for every item."""
    site = ops.site(p, site_code, SUPERVISING_ROLES)
    plan = transport(carrier, flight, flight_date, departure_time, site.code)
    with ops.ctx.store.write(site.code) as uow:
        repo = uow.repo(SiteOpsRepository)
        d = _get(uow, site.code, did)
        same_flight = (d.carrier, d.flight, d.flight_date) == (
            plan.carrier,
            plan.flight,
            plan.flight_date.isoformat(),
        )
        if plan.departs_at is None and same_flight and d.departs_at:
            plan = replace(plan, departs_at=datetime.fromisoformat(d.departs_at))
        advance(d.id, d.state, DespatchState.HANDED_OVER)
        items = _items(uow, ops, d, ItemState.IN_TRANSIT)
        receptacles = repo.receptacles(site.code, despatch_id=d.id)
        cardit = ops.docs.cardit(d, receptacles, plan, f"CARDIT-{d.id}", ops.ctx.now_text())
        uow.append(
            [
                _movement(DespatchHandedOver, d, plan, items),
                _message(d, "cardit", 1, cardit.decode(), None),
                audit_event(
                    p.actor(), "despatch.handed_over", d.id, details={"flight": plan.flight}
                ),
            ]
        )
        return _get(uow, site.code, d.id)


def get_despatch(ops: SiteOps, p: Principal, site_code: str, did: str) -> DespatchRecord:
    site = ops.site(p, site_code, READING_ROLES)
    with ops.ctx.store.read() as uow:
        return _get(uow, site.code, did)


def list_despatches(
    ops: SiteOps,
    p: Principal,
    site_code: str,
    state: str | None = None,
    after: Position | None = None,
    limit: int | None = None,
) -> list[DespatchRecord]:
    """The site's despatches, oldest composed first, from after ``after``, at most ``limit``.

    ValidationError for an unknown state or a limit outside 1 to 1000.
    """
    site = ops.site(p, site_code, READING_ROLES)
    check_listing(state, list(DespatchState), limit)
    with ops.ctx.store.read() as uow:
        return uow.repo(SiteOpsRepository).despatches(site.code, state, after, limit)


def despatch_receptacles(
    ops: SiteOps, p: Principal, site_code: str, did: str
) -> list[ReceptacleRecord]:
    site = ops.site(p, site_code, READING_ROLES)
    with ops.ctx.store.read() as uow:
        _get(uow, site.code, did)
        return uow.repo(SiteOpsRepository).receptacles(site.code, despatch_id=did)


def despatch_bill(ops: SiteOps, p: Principal, site_code: str, did: str) -> bytes:
    """The CN38 or CN31 of a closed despatch."""
    site = ops.site(p, site_code, READING_ROLES)
    with ops.ctx.store.read() as uow:
        d = _get(uow, site.code, did)
        if d.state in (DespatchState.OPEN, DespatchState.CANCELLED):
            advance(d.id, d.state, DespatchState.HANDED_OVER)
        receptacles = uow.repo(SiteOpsRepository).receptacles(site.code, despatch_id=did)
    on = date.fromisoformat(d.flight_date) if d.flight_date else ops.ctx.clock.now().date()
    return ops.docs.despatch_bill(d, receptacles, on)


def list_messages(ops: SiteOps, p: Principal, site_code: str, did: str) -> list[MessageRecord]:
    site = ops.site(p, site_code, READING_ROLES)
    with ops.ctx.store.read() as uow:
        _get(uow, site.code, did)
        return uow.repo(SiteOpsRepository).messages(did)


def message(
    ops: SiteOps, p: Principal, site_code: str, did: str, kind: str, part: str | None = None
) -> bytes:
    """One stored message; ITMATT is opened for the reader and the reading is audited."""
    site = ops.site(p, site_code, READING_ROLES)
    with ops.ctx.store.write(site.code) as uow:
        _get(uow, site.code, did)
        found = [
            m
            for m in uow.repo(SiteOpsRepository).messages(did, kind)
            if part is None or m.part == part
        ]
        if not found:
            raise NotFoundError(f"no {kind} message{' part ' + part if part else ''} for {did}")
        if len(found) > 1:
            raise ValidationError.single(
                "part",
                "required",
                None,
                f"{did} has {len(found)} {kind} messages (per customer, up to"
                f" {ITMATT_MAX_ITEMS} items each): add ?part=" + " or ".join(m.part for m in found),
            )
        m = found[0]
        if not m.sealed:
            return m.content.encode()
        assert m.customer_id is not None
        xml = ops.ctx.vault.open(uow, m.customer_id, itmatt_aad(did, m.customer_id), m.content)
        uow.append(
            [audit_event(p.actor(), "message.read", did, details={"kind": kind, "part": m.part})]
        )
        return str(xml["xml"]).encode()
