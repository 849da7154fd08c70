"""Customer advisories: what customers are told while exports are held.

An advisory is published when a customer-facing hold takes effect (or is scheduled), gets
updates as items are released, and is closed when its hold ends. The published, updated
and closed events are stored ready for webhook delivery to subscribed customers.
Advisories are public: they carry the advisory text and scope, never the hold's reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Principal, Role, require_roles
from postex.eventlog.catalogue import Event
from postex.eventlog.chain import format_time
from postex.eventlog.context import Context
from postex.eventlog.ports import UnitOfWork
from postex.incidents.domain import ADVISORY_ID, MAX_ADVISORY, Scope, well_formed
from postex.incidents.events import AdvisoryClosed, AdvisoryPublished, AdvisoryUpdated
from postex.kernel.errors import InvalidStateError, NotFoundError
from postex.kernel.validation import Checker

RECENT = timedelta(days=14)  # resolved advisories stay on the status page this long
RESOLVED_TEXT = "Resolved: exports in this scope have resumed."


@dataclass(frozen=True)
class AdvisoryUpdate:
    at: str
    text: str


@dataclass(frozen=True)
class AdvisoryRecord:
    id: str
    hold_id: str
    text: str
    scope: Scope
    starts_at: str
    published_at: str
    closed_at: str | None
    updates: tuple[AdvisoryUpdate, ...] = ()

    def status(self, now: datetime) -> str:
        if self.closed_at is not None:
            return "resolved"
        return "active" if self.starts_at <= format_time(now) else "scheduled"


class AdvisoryRepository(Protocol):
    def get(self, advisory_id: str) -> AdvisoryRecord | None: ...

    def open_or_closed_since(self, since: str) -> list[AdvisoryRecord]:
        """Advisories not closed, or closed at or after ``since``; newest first."""
        ...


def published_event(
    advisory_id: str, hold_id: str, text: str, scope: Scope, starts_at: str
) -> Event:
    return AdvisoryPublished(
        advisory_id=advisory_id,
        hold_id=hold_id,
        text=text,
        scope=scope.to_dict(),
        starts_at=starts_at,
    )


def updated_event(advisory_id: str, text: str) -> AdvisoryUpdated:
    return AdvisoryUpdated(advisory_id=advisory_id, text=text)


def closed_event(advisory_id: str) -> AdvisoryClosed:
    return AdvisoryClosed(advisory_id=advisory_id, text=RESOLVED_TEXT)


def list_advisories(
    ctx: Context, service: str | None = None, destination: str | None = None
) -> list[AdvisoryRecord]:
    """Active, scheduled and recently resolved advisories, optionally for one service or
    destination country (an advisory with no such restriction applies to all)."""
    since = format_time(ctx.clock.now() - RECENT)
    with ctx.store.read() as uow:
        rows = uow.repo(AdvisoryRepository).open_or_closed_since(since)
    return [
        a
        for a in rows
        if (service is None or not a.scope.services or service in a.scope.services)
        and (destination is None or not a.scope.destinations or destination in a.scope.destinations)
    ]


def get_advisory(ctx: Context, advisory_id: str) -> AdvisoryRecord:
    """One advisory (public, like the status page); NotFoundError when there is none."""
    with ctx.store.read() as uow:
        return _find(uow.repo(AdvisoryRepository), advisory_id)


def _find(repo: AdvisoryRepository, advisory_id: str) -> AdvisoryRecord:
    record = repo.get(advisory_id) if well_formed(ADVISORY_ID, advisory_id) else None
    if record is None:
        raise NotFoundError(f"no advisory {advisory_id}")
    return record


def _clean_text(text: object) -> str:
    c = Checker()
    clean = c.text({"text": text}, "text", max_len=MAX_ADVISORY)
    c.done()
    assert clean is not None
    return clean


def add_update(ctx: Context, p: Principal, advisory_id: str, text: object) -> AdvisoryRecord:
    """Ops add a customer-facing update to an open advisory (audited)."""
    require_roles(p, Role.OPS)
    clean = _clean_text(text)
    return _append(ctx, p, advisory_id, updated_event(advisory_id, clean), "advisory.updated")


def resolve_advisory(ctx: Context, p: Principal, advisory_id: str, text: object) -> AdvisoryRecord:
    """Ops resolve an open advisory with a last word to customers (audited); the hold, if
    still in force, stays: this only ends what the status page says. A hold released later
    does not resolve it twice."""
    require_roles(p, Role.OPS)
    clean = _clean_text(text)
    closed = AdvisoryClosed(advisory_id=advisory_id, text=clean)
    return _append(ctx, p, advisory_id, closed, "advisory.resolved")


def _append(
    ctx: Context, p: Principal, advisory_id: str, event: Event, action: str
) -> AdvisoryRecord:
    with ctx.store.write(ctx.site) as uow:
        repo = uow.repo(AdvisoryRepository)
        record = _find(repo, advisory_id)
        if record.closed_at is not None:
            raise InvalidStateError(
                f"advisory {advisory_id} is resolved; it takes no more updates", rule="closed"
            )
        details: dict[str, Any] = {"hold_id": record.hold_id}
        uow.append([event, audit_event(p.actor(), action, advisory_id, "", details)])
        updated = repo.get(advisory_id)
    assert updated is not None
    return updated


def is_open(uow: UnitOfWork, advisory_id: str) -> bool:
    """Whether an advisory exists and is not resolved yet (within a unit of work)."""
    record = uow.repo(AdvisoryRepository).get(advisory_id)
    return record is not None and record.closed_at is None
