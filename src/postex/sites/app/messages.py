"""Incoming carrier receipts (RESDIT): 74 taken into custody, 21 delivered, per receptacle.

A partner reports only on receptacles of despatches handed over to it (its offices list the
IATA carrier codes and IMPC offices it speaks for; an empty list speaks for any carrier).
A report repeated is ignored; anything unknown refuses the whole document.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Principal
from postex.eventlog.catalogue import Event
from postex.kernel import plausibility
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


def _implausible(
    report: CarrierReport,
    d: DespatchRecord,
    now: datetime,
    custody: dict[str, str],
    path: str,
) -> FieldError | None:
    """A receipt that cannot have happened when it says (kernel.plausibility): in the
    future, before the handover (custody before we handed the mail over), or a delivery
    before the carrier's first receipt of the despatch (or of the receptacle, in this
    document)."""
    at = plausibility.parse_time(report.occurred_at)
    tolerance = int(plausibility.ORDER_TOLERANCE.total_seconds() // 60)
    if plausibility.in_future(at, now):
        skew = int(plausibility.FUTURE_SKEW.total_seconds() // 60)
        return FieldError(
            path, "in_future", report.occurred_at,
            f"the receipt is stamped more than {skew} minutes in the future",
        )  # fmt: skip
    if plausibility.before(at, d.handed_over_at):
        return FieldError(
            path, "before_handover", report.occurred_at,
            f"the receipt is more than {tolerance} minutes earlier than the handover of "
            f"despatch {d.id}",
        )  # fmt: skip
    first = custody.get(report.s9) or d.custody_at
    if report.code == "21" and plausibility.before(at, first):
        return FieldError(
            path, "before_custody", report.occurred_at,
            f"the delivery is more than {tolerance} minutes earlier than the carrier's receipt",
        )  # fmt: skip
    return None


Found = list[tuple[CarrierReport, ReceptacleRecord, DespatchRecord]]


def _checked(ops: SiteOps, p: Principal, reports: list[CarrierReport]) -> Found:
    """Each report with its receptacle and despatch; ValidationError listing every problem."""
    found: Found = []
    errors: list[FieldError] = []
    now = ops.ctx.clock.now()
    custody: dict[str, str] = {}  # receipts (74) of this document, by S9
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
                problem = _implausible(report, d, now, custody, f"event[{i}].OccurredAt")
                if problem is not None:
                    errors.append(problem)
                else:
                    found.append((report, r, d))
                    if report.code == "74":
                        custody.setdefault(report.s9, report.occurred_at)
    if errors:
        raise ValidationError(errors)
    return found


def record_resdit(ops: SiteOps, p: Principal, data: bytes) -> ResditOutcome:
    """Record a RESDIT document's events on receptacles, despatches and items.

    All or nothing: an unknown receptacle, one not handed over, or a receipt that cannot
    have happened when it says (``in_future``, ``before_handover``, ``before_custody``)
    refuses the whole document with every problem listed."""
    if p.kind != "partner":
        raise ForbiddenError("carrier receipts come from partner keys", rule="kind")
    reports = ops.docs.read_resdit(data)
    if not reports:
        raise ValidationError.single("resdit", "empty", 0, "the document has no Event")
    found = _checked(ops, p, reports)
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
