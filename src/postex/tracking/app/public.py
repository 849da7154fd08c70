"""Public tracking: status and timeline of an item, with no personal data at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from postex.accounts.app.partners import office_name
from postex.eventlog.context import Context
from postex.items.app.timeline import TrackingRow
from postex.kernel.countries import country_name
from postex.kernel.errors import NotFoundError
from postex.kernel.event_codes import Status, event_codes
from postex.kernel.ids import S10
from postex.kernel.reference import services


class TrackingRepository(Protocol):
    def timeline(self, item_id: str) -> list[TrackingRow]:
        """Every tracking event of the item, oldest first by event time."""
        ...


class PublicTrackingRepository(Protocol):
    def public_view(self, item_id: str) -> tuple[tuple[str, str] | None, list[TrackingRow]]:
        """The item's (service, destination) and timeline in one query; (None, []) if unknown."""
        ...


@dataclass(frozen=True)
class PublicEvent:
    code: str
    description: str
    place: str | None
    time: str


@dataclass(frozen=True)
class PublicTracking:
    id: str
    status: str
    service: str
    destination_country: str
    destination_name: str
    events: list[PublicEvent]


def status_of(rows: list[TrackingRow]) -> Status:
    """The customer-facing status: the last event's, except that a final event stands."""
    codes = event_codes()
    known = [codes[r.code] for r in rows if r.code in codes]
    if not known:
        return Status.PRE_ADVISED
    finals = [c for c in known if c.final]
    return (finals[-1] if finals else known[-1]).status


def public_tracking(ctx: Context, item_id: str) -> PublicTracking:
    """Raise ValidationError for a malformed id, NotFoundError for an unknown one."""
    S10.parse(item_id)
    with ctx.store.read() as uow:
        item, rows = uow.repo(PublicTrackingRepository).public_view(item_id)
    if item is None:
        raise NotFoundError(f"no item {item_id}")
    service, destination = item
    codes = event_codes()
    events = [
        PublicEvent(
            code=r.code,
            description=codes[r.code].description if r.code in codes else r.code,
            place=office_name(r.office) or r.office,
            time=r.occurred_at,
        )
        for r in rows
    ]
    svc = services().by_code.get(service)
    return PublicTracking(
        id=item_id,
        status=str(status_of(rows)),
        service=svc.name if svc else service,
        destination_country=destination,
        destination_name=country_name(destination),
        events=events,
    )
