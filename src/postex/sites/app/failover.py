"""Failover of a lost site to a survivor, and failback: two operations leads, one log.

An operations lead asks (``site.failover_requested.v1``); a second, different one confirms
within 15 minutes (the two-person rule of export holds). The confirming node lists, from
its own tables, what moves: every item of the lost site accepted but not despatched
(``site.failover_items_moved.v1``, at most 1,000 a event) and every receptacle of the lost
site not despatched (``site.failover_receptacles_abandoned.v1``). Every node applies those
lists identically (``sites/sql/failover.py``); from then on the lost site's routes leave
from the survivor (:attr:`SiteOps.network`), which re-bags the moved items in its own
receptacles. A failback, asked and confirmed the same way, ends the failover; moved items
stay where they are.

Events are written to the log of the node where the command runs (the hub or any site).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import NETWORK_ROLES, Principal, Role, require_roles
from postex.eventlog.catalogue import Event
from postex.eventlog.context import new_id
from postex.eventlog.ports import UnitOfWork
from postex.incidents.app.policy import parse_stamp as parse_time
from postex.incidents.domain import within_window
from postex.kernel.errors import (
    ConflictError,
    ForbiddenError,
    InvalidStateError,
    NotFoundError,
)
from postex.sites.app.ops import SiteOps
from postex.sites.domain.failover import (
    FailoverAsk,
    RequestKind,
    RequestStatus,
    check_failback,
    check_failover,
    parse_failback,
    parse_failover,
    well_formed,
)
from postex.sites.events import (
    FailbackConfirmed,
    FailbackRequested,
    FailoverConfirmed,
    FailoverItemsMoved,
    FailoverReceptaclesAbandoned,
    FailoverRequested,
)

CHUNK = 1000  # items or receptacles per event (NATS: 1 MB a message)
LEADS = (Role.OPS,)  # operations leads ask and confirm
READERS = (Role.OPS, Role.AUDITOR, Role.ADMIN, Role.SUPERVISOR)


@dataclass(frozen=True)
class MovableItem:
    """An item of the lost site accepted but not despatched, as the tables hold it."""

    item_id: str
    state: str  # accepted | in_receptacle | held
    measured_g: int
    accepted_at: str

    def listed(self) -> list[Any]:
        after = "held" if self.state == "held" else "accepted"
        return [self.item_id, after, self.measured_g, self.accepted_at]


@dataclass(frozen=True)
class AbandonedReceptacle:
    receptacle_id: str
    site: str
    failover_id: str
    reason: str
    abandoned_at: str


@dataclass(frozen=True)
class FailoverRecord:
    id: str
    kind: str  # failover | failback
    from_site: str  # the lost site (a failback: the site whose failover ends)
    to_site: str | None  # the survivor
    reason: str
    requested_by: dict[str, Any]
    requested_at: str
    origin_site: str  # the log that holds the request
    confirmed_by: dict[str, Any] | None
    confirmed_at: str | None
    ended_at: str | None
    item_count: int
    receptacle_count: int

    def status(self, now: datetime) -> RequestStatus:
        if self.confirmed_at is None:
            fresh = within_window(parse_time(self.requested_at), now)
            return RequestStatus.PENDING if fresh else RequestStatus.EXPIRED
        if self.kind == RequestKind.FAILBACK:
            return RequestStatus.DONE
        return RequestStatus.ENDED if self.ended_at else RequestStatus.ACTIVE


class FailoverRepository(Protocol):
    def active(self) -> dict[str, str]: ...

    def active_ids(self) -> dict[str, str]:
        """lost site -> the id of the failover in force."""
        ...

    def get(self, request_id: str) -> FailoverRecord | None: ...

    def all(self) -> list[FailoverRecord]:
        """Newest asked first."""
        ...

    def movable_items(self, site: str) -> list[MovableItem]: ...

    def open_receptacles(self, site: str) -> list[str]: ...

    def abandonment(self, receptacle_id: str) -> tuple[str, str] | None: ...

    def moved(self, item_id: str) -> tuple[str, str] | None: ...

    def abandoned(self, limit: int) -> list[AbandonedReceptacle]:
        """Newest abandoned first."""
        ...


# --- helpers ---------------------------------------------------------------------------
def _pending(repo: FailoverRepository, kind: RequestKind, site: str, now: datetime) -> None:
    for r in repo.all():
        if r.kind == kind and r.from_site == site and r.status(now) is RequestStatus.PENDING:
            raise ConflictError(
                f"a {kind} of {site} ({r.id}) already waits for a second operations lead:"
                f" confirm it with `postex sites {kind} confirm {r.id}`",
                rule="request_pending", field="site", value=site, request_id=r.id,
            )  # fmt: skip


def _get(uow: UnitOfWork, request_id: str) -> FailoverRecord:
    found = uow.repo(FailoverRepository).get(request_id) if well_formed(request_id) else None
    if found is None:
        raise NotFoundError(f"no failover or failback request {request_id}")
    return found


def _second_person(p: Principal, r: FailoverRecord, now: datetime) -> None:
    if r.requested_by.get("id") == p.subject:
        raise ForbiddenError(
            "the two-person rule needs a different operations lead to confirm",
            rule="two_person", field="confirmed_by", value=p.subject,
        )  # fmt: skip
    if not within_window(parse_time(r.requested_at), now):
        raise InvalidStateError(
            f"{r.id} was not confirmed within 15 minutes; ask again",
            rule="confirmation_expired", field="request_id", value=r.id,
        )  # fmt: skip


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[n : n + CHUNK] for n in range(0, len(values), CHUNK)]


# --- use cases -------------------------------------------------------------------------
def request_failover(ops: SiteOps, p: Principal, payload: object) -> FailoverRecord:
    """An operations lead asks to fail ``from_site`` over to ``to_site``.

    ValidationError (unknown or same site, survivor not an office of exchange, reason),
    ConflictError (already failed over, survivor failed over, a request pending)."""
    require_roles(p, *LEADS)
    ask = parse_failover(payload, ops.plan.sites)
    request_id = new_id("fov")
    with ops.ctx.store.write(ops.ctx.site) as uow:
        repo = uow.repo(FailoverRepository)
        check_failover(ask, repo.active())
        _pending(repo, RequestKind.FAILOVER, ask.from_site, ops.ctx.clock.now())
        uow.append([
            FailoverRequested(request_id, ask.from_site, ask.to_site, ask.reason, p.actor()),
            audit_event(p.actor(), "site.failover_requested", request_id, ask.reason,
                        {"from_site": ask.from_site, "to_site": ask.to_site}),
        ])  # fmt: skip
        return _get(uow, request_id)


def request_failback(ops: SiteOps, p: Principal, payload: object) -> FailoverRecord:
    """An operations lead asks to end ``site``'s failover (ConflictError: not failed over)."""
    require_roles(p, *LEADS)
    site, reason = parse_failback(payload, ops.plan.sites)
    request_id = new_id("fov")
    with ops.ctx.store.write(ops.ctx.site) as uow:
        repo = uow.repo(FailoverRepository)
        check_failback(site, repo.active())
        _pending(repo, RequestKind.FAILBACK, site, ops.ctx.clock.now())
        uow.append([
            FailbackRequested(request_id, site, reason, p.actor()),
            audit_event(p.actor(), "site.failback_requested", request_id, reason,
                        {"site": site}),
        ])  # fmt: skip
        return _get(uow, request_id)


def confirm(
    ops: SiteOps, p: Principal, request_id: str, kind: RequestKind | None = None
) -> FailoverRecord:
    """A second operations lead confirms a pending failover or failback.

    NotFoundError (no such request), ForbiddenError (the same person), InvalidStateError
    (confirmed already, expired), ConflictError (the rules no longer hold)."""
    require_roles(p, *LEADS)
    now = ops.ctx.clock.now()
    with ops.ctx.store.write(ops.ctx.site) as uow:
        r = _get(uow, request_id)
        if kind is not None and r.kind != kind:
            raise NotFoundError(f"no {kind} request {request_id}")
        if r.confirmed_at is not None:
            raise InvalidStateError(
                f"{r.id} was confirmed already ({r.confirmed_at})",
                rule="already_confirmed", field="request_id", value=r.id,
            )  # fmt: skip
        _second_person(p, r, now)
        repo = uow.repo(FailoverRepository)
        if r.kind == RequestKind.FAILBACK:
            events = _failback_events(repo, p, r)
        else:
            assert r.to_site is not None
            check_failover(FailoverAsk(r.from_site, r.to_site, r.reason), repo.active())
            events = _failover_events(repo, p, r, r.to_site)
        uow.append(events)
        confirmed = _get(uow, request_id)
    ops.forget_routing()
    return confirmed


def _failover_events(
    repo: FailoverRepository, p: Principal, r: FailoverRecord, to_site: str
) -> list[Event]:
    items = [m.listed() for m in repo.movable_items(r.from_site)]
    receptacles = repo.open_receptacles(r.from_site)
    events: list[Event] = [
        FailoverConfirmed(r.id, r.from_site, to_site, p.actor(), len(items), len(receptacles)),
        *(FailoverReceptaclesAbandoned(r.id, r.from_site, r.reason, list(part))
          for part in _chunks(receptacles)),
        *(FailoverItemsMoved(r.id, r.from_site, to_site, [list(x) for x in part])
          for part in _chunks(items)),
        audit_event(p.actor(), "site.failover_confirmed", r.id, r.reason,
                    {"from_site": r.from_site, "to_site": to_site, "items": len(items),
                     "receptacles": len(receptacles),
                     "abandoned_receptacles": receptacles[:50],
                     "requested_by": r.requested_by.get("id")}),
    ]  # fmt: skip
    return events


def _failback_events(repo: FailoverRepository, p: Principal, r: FailoverRecord) -> list[Event]:
    survivor = check_failback(r.from_site, repo.active())
    failover_id = repo.active_ids()[r.from_site]
    return [
        FailbackConfirmed(r.id, r.from_site, survivor, failover_id, p.actor()),
        audit_event(p.actor(), "site.failback_confirmed", r.id, r.reason,
                    {"site": r.from_site, "from_survivor": survivor, "failover_id": failover_id,
                     "requested_by": r.requested_by.get("id")}),
    ]  # fmt: skip


def list_failovers(ops: SiteOps, p: Principal) -> list[FailoverRecord]:
    """Every failover and failback request, newest first (operations, auditors, admins and
    supervisors: a failover concerns every site)."""
    require_roles(p, *READERS)
    with ops.ctx.store.read() as uow:
        return uow.repo(FailoverRepository).all()


def get_failover(ops: SiteOps, p: Principal, request_id: str) -> FailoverRecord:
    require_roles(p, *READERS)
    with ops.ctx.store.read() as uow:
        return _get(uow, request_id)


def abandoned_receptacles(
    ops: SiteOps, p: Principal, limit: int = 200
) -> list[AbandonedReceptacle]:
    """Receptacles failovers abandoned, newest first, with the reason."""
    require_roles(p, *READERS)
    with ops.ctx.store.read() as uow:
        return uow.repo(FailoverRepository).abandoned(limit)


def active_failovers(ops: SiteOps) -> dict[str, str]:
    """Failovers in force, lost site -> survivor (for pages that show routing)."""
    with ops.ctx.store.read() as uow:
        return uow.repo(FailoverRepository).active()


def is_network_role(p: Principal) -> bool:
    return p.role in NETWORK_ROLES
