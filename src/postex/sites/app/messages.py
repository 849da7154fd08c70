"""Incoming carrier receipts (RESDIT): 74 taken into custody, 21 delivered, per receptacle.

A partner reports only on receptacles of despatches handed over to it (its offices list the
IATA carrier codes and IMPC offices it speaks for; an empty list speaks for any carrier).
A report repeated is ignored; anything unknown refuses the whole document.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Principal
from postex.eventlog.catalogue import Event
from postex.kernel.errors import FieldError, ForbiddenError, ValidationError
from postex.sites.app.ops import (
    CarrierReport,
    DespatchRecord,
    ReceptacleRecord,
    SiteOps,
    SiteOpsRepository,
)
from postex.sites.domain.despatches import DespatchState
from postex.sites.events import DespatchCarrierReported

ORDER = {None: 0, "74": 1, "21": 2}
AFTER_HANDOVER = {DespatchState.HANDED_OVER, DespatchState.IN_CUSTODY, DespatchState.DELIVERED}


@dataclass(frozen=True)
class ResditOutcome:
    recorded: int
    repeated: int


def _speaks_for(p: Principal, d: DespatchRecord) -> bool:
    return not p.offices or bool({d.carrier, d.destination} & set(p.offices))


def record_resdit(ops: SiteOps, p: Principal, data: bytes) -> ResditOutcome:
    """Record a RESDIT document's events on receptacles, despatches and items."""
    if p.kind != "partner":
        raise ForbiddenError("carrier receipts come from partner keys", rule="kind")
    reports = ops.docs.read_resdit(data)
    if not reports:
        raise ValidationError.single("resdit", "empty", 0, "the document has no Event")
    found: list[tuple[CarrierReport, ReceptacleRecord, DespatchRecord]] = []
    errors: list[FieldError] = []
    with ops.ctx.store.read() as uow:
        repo = uow.repo(SiteOpsRepository)
        for i, report in enumerate(reports, start=1):
            path = f"event[{i}].ReceptacleId"
            r = repo.receptacle_by_s9(report.s9)
            d = repo.despatch(r.site, r.despatch_id) if r and r.despatch_id else None
            if r is None or d is None or not _speaks_for(p, d):
                errors.append(
                    FieldError(
                        path,
                        "unknown_receptacle",
                        report.s9,
                        "no receptacle with this S9 id was handed to you",
                    )
                )
            elif d.state not in AFTER_HANDOVER:
                errors.append(
                    FieldError(
                        path,
                        "not_handed_over",
                        report.s9,
                        f"despatch {d.id} has not been handed over yet",
                    )
                )
            else:
                found.append((report, r, d))
    if errors:
        raise ValidationError(errors)
    by_site: dict[str, list[tuple[CarrierReport, ReceptacleRecord, DespatchRecord]]]
    by_site = defaultdict(list)
    for entry in found:
        by_site[entry[1].site].append(entry)
    recorded = 0
    for site, entries in sorted(by_site.items()):
        with ops.ctx.store.write(site) as uow:
            repo = uow.repo(SiteOpsRepository)
            status: dict[str, str | None] = {}
            events: list[Event] = []
            for report, r, d in entries:
                current = status.get(r.id, (repo.receptacle(site, r.id) or r).carrier_status)
                if ORDER[report.code] <= ORDER[current]:
                    continue
                status[r.id] = report.code
                events.append(
                    DespatchCarrierReported(
                        despatch_id=d.id,
                        site=site,
                        receptacle_id=r.id,
                        s9=report.s9,  # the receptacle was found by it: r.s9 is the same
                        code=report.code,
                        occurred_at=report.occurred_at,
                        location=report.location,
                        partner=p.subject,
                    )
                )
            if events:
                events.append(
                    audit_event(p.actor(), "resdit.recorded", site, details={"count": len(events)})
                )
                uow.append(events)
                recorded += len(events) - 1
    return ResditOutcome(recorded, len(reports) - recorded)
