"""Public tracking: status and timeline of an item, with no personal data at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from postex.accounts.app.partners import office_name
from postex.eventlog.context import Context
from postex.incidents.app.advisories import AdvisoryRepository
from postex.incidents.app.policy import HoldRepository
from postex.items.app.timeline import TrackingRow
from postex.kernel.countries import country_name
from postex.kernel.errors import NotFoundError
from postex.kernel.event_codes import Status, event_codes
from postex.kernel.ids import S10
from postex.kernel.reference import services
from postex.kernel.zones import zone_label


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
    time: str  # the place's local time with its offset, as recorded
    country: str | None = None  # where it happened (the office's or the site's country)

    def zone(self) -> str:
        """The place's zone abbreviation at that moment, e.g. ``EST`` (``UTC−05:00`` if none)."""
        return zone_label(self.country, datetime.fromisoformat(self.time))


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
            country=(r.office or r.site or "")[:2] or None,
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


# What each status means to someone waiting for the item, in one line.
HEADLINES: dict[str, tuple[str, str]] = {
    Status.PRE_ADVISED: ("Pre-advised", "The sender has told us about this item; it has not "
                         "been handed to us yet."),
    Status.ACCEPTED: ("Accepted", "We have the item at our export centre and are preparing it "
                      "for its journey abroad."),
    Status.IN_TRANSIT: ("In transit", "The item is on its way to the destination country."),
    Status.HELD_BY_CUSTOMS: ("Held by customs", "Customs in the destination country are "
                             "checking the item; the post there delivers it once released."),
    Status.ARRIVED_IN_DESTINATION: ("Arrived", "The item has reached the destination country "
                                    "and is with the post there."),
    Status.OUT_FOR_DELIVERY: ("Out for delivery", "The item is with the local postman today."),
    Status.DELIVERY_ATTEMPTED: ("Delivery attempted", "Nobody could take the item; look for a "
                                "card from the local post."),
    Status.READY_FOR_PICKUP: ("Ready for pick-up", "The item waits at a post office for the "
                              "addressee."),
    Status.DELIVERED: ("Delivered", "The item has been delivered."),
    Status.RETURNED: ("Returned", "The item is coming back, or has come back, to its sender."),
    Status.CANCELLED: ("Cancelled", "The sender cancelled this item before handing it in."),
    Status.EXCEPTION: ("Exception", "Something has delayed the item; the latest event says "
                       "what."),
}  # fmt: skip
HELD = ("Held", "The item waits at our export centre because of a service disruption.")


@dataclass(frozen=True)
class Advisory:
    text: str
    since: str
    updates: tuple[tuple[str, str], ...]  # (time, text), oldest first


@dataclass(frozen=True)
class TrackingView:
    """The public page's view: the API's tracking, a headline in plain words and, for an
    item an export hold keeps, the public advisory that explains it."""

    tracking: PublicTracking
    headline: str
    explanation: str
    advisory: Advisory | None


def _advisory_for(ctx: Context, item_id: str) -> Advisory | None:
    """The public advisory of the hold keeping the item, if it has one."""
    with ctx.store.read() as uow:
        holds = uow.repo(HoldRepository)
        hold_id = holds.holding([item_id]).get(item_id)
        hold = holds.get(hold_id) if hold_id else None
        if hold is None or not hold.advisory_id:
            return None
        found = uow.repo(AdvisoryRepository).get(hold.advisory_id)
    if found is None or found.closed_at is not None:
        return None
    updates = tuple((u.at, u.text) for u in found.updates)
    return Advisory(found.text, found.starts_at, updates)


def tracking_view(ctx: Context, item_id: str) -> TrackingView:
    """The public page of ``item_id`` (already in canonical form): ValidationError for a
    malformed id, NotFoundError for an unknown one, as ``public_tracking``."""
    t = public_tracking(ctx, item_id)
    advisory = _advisory_for(ctx, item_id)
    if advisory is not None:
        return TrackingView(t, *HELD, advisory)
    headline, explanation = HEADLINES.get(t.status, (t.status.replace("_", " ").capitalize(), ""))
    if t.status == Status.ARRIVED_IN_DESTINATION:
        headline = f"Arrived in {t.destination_name}"
    return TrackingView(t, headline, explanation, None)
