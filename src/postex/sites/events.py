"""Events of the export sites: acceptance, receptacles (bags) and despatches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from postex.eventlog.catalogue import Event, Upcaster, doc, omit_none
from postex.eventlog.saw import SAW_DOC


@dataclass(frozen=True, slots=True)
class ItemAccepted(Event):
    TYPE: ClassVar[str] = "item.accepted.v1"
    item_id: str
    site: str
    weight_g: int = field(metadata=doc("weighed at the counter, grams"))
    declared_g: int = field(metadata=doc("declared at pre-advice, grams"))
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return [self.item_id]


@dataclass(frozen=True, slots=True)
class ItemArrivedAtExchange(Event):
    TYPE: ClassVar[str] = "item.arrived_at_exchange.v1"
    item_id: str
    site: str = field(metadata=doc("an office of exchange (EMB)"))
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return [self.item_id]


@dataclass(frozen=True, slots=True)
class ItemReturnedToSender(Event):
    """An accepted item sent back to its sender from the site (EXX, export cancelled)."""

    TYPE: ClassVar[str] = "item.returned_to_sender.v1"
    item_id: str
    site: str
    reason: str = field(metadata=doc("why, in the supervisor's words (staff only, not public)"))
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return [self.item_id]


@dataclass(frozen=True, slots=True)
class ItemTransferredOut(Event):
    """An accepted item sent from this site to another of our sites (EMK here): its route
    leaves from there. Until that site scans it in, no site may bag it."""

    TYPE: ClassVar[str] = "item.transferred_out.v1"
    item_id: str
    site: str = field(metadata=doc("the sending site, where the item is now"))
    to_site: str = field(metadata=doc("the site it travels to"))
    reason: str = field(metadata=doc("why: 'route' (its route leaves from to_site)"))
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return [self.item_id]


@dataclass(frozen=True, slots=True)
class ItemTransferReceived(Event):
    """An item transferred to this site, scanned in on arrival (EMB here): it may be bagged
    here from now on."""

    TYPE: ClassVar[str] = "item.transfer_received.v1"
    item_id: str
    site: str = field(metadata=doc("the receiving site"))
    from_site: str = field(metadata=doc("the site that sent it"))
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return [self.item_id]


@dataclass(frozen=True, slots=True)
class ReceptacleOpened(Event):
    TYPE: ClassVar[str] = "receptacle.opened.v1"
    receptacle_id: str
    site: str
    destination: str = field(metadata=doc("destination office of exchange (IMPC)"))
    category: str = field(metadata=doc("mail category A-D"))
    subclass: str = field(metadata=doc("mail subclass, e.g. UN"))


@dataclass(frozen=True, slots=True)
class BaggedItem:
    """One item put in a bag, with the weight it was accepted at."""

    item_id: str
    weight_g: int

    def to_body(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "weight_g": self.weight_g}


@dataclass(frozen=True, slots=True)
class ReceptacleItemsAdded(Event):
    """Items scanned into an open bag. v2 lists each item with its weight (v1 kept two
    parallel lists, ``item_ids`` and ``weights_g``; :data:`ITEMS_ADDED_V1` reads them)."""

    TYPE: ClassVar[str] = "receptacle.items_added.v2"
    receptacle_id: str
    site: str
    items: list[dict[str, Any]] = field(metadata=doc("{item_id, weight_g (grams)} per item"))
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def bagged(self) -> list[BaggedItem]:
        return [BaggedItem(i["item_id"], i["weight_g"]) for i in self.items]

    @classmethod
    def of(cls, receptacle_id: str, site: str, bagged: list[BaggedItem]) -> ReceptacleItemsAdded:
        return cls(receptacle_id, site, [b.to_body() for b in bagged])

    def changed_items(self) -> list[str]:
        return [str(i["item_id"]) for i in self.items]


def _items_added_v1(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """v1's parallel ``item_ids`` and ``weights_g`` lists become v2's ``items``, in order."""
    pairs = zip(body["item_ids"], body["weights_g"], strict=True)
    return {
        "receptacle_id": body["receptacle_id"],
        "site": body["site"],
        "items": [{"item_id": i, "weight_g": w} for i, w in pairs],
    }


ITEMS_ADDED_V1 = Upcaster("receptacle.items_added.v1", ReceptacleItemsAdded, _items_added_v1)


@dataclass(frozen=True, slots=True)
class ReceptacleItemRemoved(Event):
    TYPE: ClassVar[str] = "receptacle.item_removed.v1"
    receptacle_id: str
    site: str
    item_id: str
    weight_g: int = field(metadata=doc("the weight it was accepted at, grams"))
    # Logs written before a held item could be taken out lack the key: it was False.
    held: bool = field(
        default=False, metadata=doc("it goes back to the held queue, not to accepted")
    )
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return [self.item_id]


@dataclass(frozen=True, slots=True)
class ReceptacleClosed(Event):
    TYPE: ClassVar[str] = "receptacle.closed.v1"
    receptacle_id: str
    site: str
    s9: str = field(metadata=doc("the 29-character receptacle id (S9)"))
    gross_weight_g: int
    year_digit: int
    despatch_serial: int
    receptacle_serial: int
    highest: int = field(metadata=doc("1 when this is the last bag of the despatch"))
    registered: int = field(metadata=doc("1 when it holds registered or insured items"))


@dataclass(frozen=True, slots=True)
class ReceptacleReopened(Event):
    """A supervisor opened a closed bag again (not in a despatch) so items can come out."""

    TYPE: ClassVar[str] = "receptacle.reopened.v1"
    receptacle_id: str
    site: str
    s9: str = field(metadata=doc("the S9 id it had, void from now on (a new one on closing)"))
    reason: str = field(metadata=doc("why, as the supervisor wrote it (at most 500 characters)"))


@dataclass(frozen=True, slots=True)
class DespatchComposed(Event):
    TYPE: ClassVar[str] = "despatch.composed.v1"
    despatch_id: str = field(metadata=doc("the 20-character despatch id (S8)"))
    site: str
    destination: str
    category: str
    subclass: str
    year_digit: int
    serial: int
    form: str = field(metadata=doc("CN38 (airmail) or CN31 (letter bill)"))
    receptacle_ids: list[str]
    item_count: int
    gross_weight_g: int


@dataclass(frozen=True, slots=True)
class DespatchReceptacleRemoved(Event):
    """A supervisor took a closed bag out of a composed (not yet closed) despatch.

    The bag is closed and free again, numbered into the next pending despatch of its
    series (a new S9 and CN35); the despatch keeps its other bags, or is cancelled when
    none is left (its number stays used)."""

    TYPE: ClassVar[str] = "despatch.receptacle_removed.v1"
    despatch_id: str
    site: str
    receptacle_id: str
    reason: str = field(metadata=doc("why, as the supervisor wrote it (at most 500 characters)"))
    item_count: int = field(metadata=doc("items leaving the despatch with the bag"))
    gross_weight_g: int = field(metadata=doc("the bag's gross weight, grams"))
    cancelled: bool = field(metadata=doc("true when the despatch has no bag left"))
    s9: str = field(metadata=doc("the bag's new S9 id, in the next pending despatch"))
    year_digit: int
    despatch_serial: int
    receptacle_serial: int


@dataclass(frozen=True, slots=True)
class DespatchClosed(Event):
    TYPE: ClassVar[str] = "despatch.closed.v1"
    despatch_id: str
    site: str
    carrier: str = field(metadata=doc("IATA airline code"))
    flight: str
    flight_date: str = field(metadata=doc("ISO date"))
    item_ids: list[str]
    departs_at: str | None = omit_none("scheduled departure, ISO 8601 with the site's offset")
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return list(self.item_ids)


@dataclass(frozen=True, slots=True)
class DespatchHandedOver(Event):
    TYPE: ClassVar[str] = "despatch.handed_over.v1"
    despatch_id: str
    site: str
    carrier: str
    flight: str
    flight_date: str
    item_ids: list[str]
    departs_at: str | None = omit_none("scheduled departure, ISO 8601 with the site's offset")
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return list(self.item_ids)


@dataclass(frozen=True, slots=True)
class DespatchMessageWritten(Event):
    TYPE: ClassVar[str] = "despatch.message_written.v1"
    despatch_id: str
    site: str
    kind: str = field(metadata=doc("predes, itmatt or cardit"))
    part: str = field(metadata=doc("001, 002, … (ITMATT is split per customer)"))
    customer_id: str | None = field(metadata=doc("set when the content is sealed"))
    content: str = field(metadata=doc("the XML, or its sealed token"))
    sealed: bool


@dataclass(frozen=True, slots=True)
class DespatchCarrierReported(Event):
    TYPE: ClassVar[str] = "despatch.carrier_reported.v1"
    despatch_id: str
    site: str
    receptacle_id: str
    s9: str
    code: str = field(metadata=doc("RESDIT event: 74 custody, 21 delivered"))
    occurred_at: str
    location: str
    partner: str = field(metadata=doc("the carrier's partner id"))


@dataclass(frozen=True, slots=True)
class FailoverRequested(Event):
    """An operations lead asks to fail a lost site over to a survivor (two-person rule)."""

    TYPE: ClassVar[str] = "site.failover_requested.v1"
    request_id: str
    from_site: str = field(metadata=doc("the lost site"))
    to_site: str = field(metadata=doc("the survivor that takes its routes and items"))
    reason: str
    requested_by: dict[str, Any] = field(metadata=doc("actor record"))


@dataclass(frozen=True, slots=True)
class FailoverConfirmed(Event):
    """A second operations lead confirms: the failover is in force from now on. The
    ``site.failover_items_moved.v1`` and ``site.failover_receptacles_abandoned.v1`` events
    that follow list what moves."""

    TYPE: ClassVar[str] = "site.failover_confirmed.v1"
    request_id: str
    from_site: str
    to_site: str
    confirmed_by: dict[str, Any] = field(metadata=doc("actor record"))
    item_count: int = field(metadata=doc("items moved to the survivor"))
    receptacle_count: int = field(metadata=doc("receptacles of the lost site abandoned"))


@dataclass(frozen=True, slots=True)
class FailoverItemsMoved(Event):
    """Items of the lost site accepted but not despatched, as the confirming node's tables
    held them: each is handled by the survivor from now on (at most 1,000 per event)."""

    TYPE: ClassVar[str] = "site.failover_items_moved.v1"
    request_id: str
    from_site: str
    to_site: str
    items: list[list[Any]] = field(
        metadata=doc("[item_id, state after the move (accepted|held), measured grams,"
                     " accepted_at]")
    )  # fmt: skip
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return [str(row[0]) for row in self.items]


@dataclass(frozen=True, slots=True)
class FailoverReceptaclesAbandoned(Event):
    """Receptacles of the lost site not despatched (open, closed or in a despatch not
    closed): abandoned, never to be closed or despatched (at most 1,000 per event)."""

    TYPE: ClassVar[str] = "site.failover_receptacles_abandoned.v1"
    request_id: str
    site: str = field(metadata=doc("the lost site the receptacles belong to"))
    reason: str = field(metadata=doc("why, in the operations leads' words"))
    receptacle_ids: list[str]


@dataclass(frozen=True, slots=True)
class FailbackRequested(Event):
    """An operations lead asks to end a site's failover (two-person rule)."""

    TYPE: ClassVar[str] = "site.failback_requested.v1"
    request_id: str
    site: str = field(metadata=doc("the site that was failed over"))
    reason: str
    requested_by: dict[str, Any] = field(metadata=doc("actor record"))


@dataclass(frozen=True, slots=True)
class FailbackConfirmed(Event):
    """The failover of ``site`` ends: its routes leave from it again; moved items stay."""

    TYPE: ClassVar[str] = "site.failback_confirmed.v1"
    request_id: str
    site: str
    from_survivor: str = field(metadata=doc("the survivor its routes left from"))
    failover_id: str = field(metadata=doc("the failover this ends"))
    confirmed_by: dict[str, Any] = field(metadata=doc("actor record"))


EVENTS: tuple[type[Event], ...] = (
    ItemAccepted,
    ItemArrivedAtExchange,
    ItemReturnedToSender,
    ItemTransferredOut,
    ItemTransferReceived,
    ReceptacleOpened,
    ReceptacleItemsAdded,
    ReceptacleItemRemoved,
    ReceptacleClosed,
    ReceptacleReopened,
    DespatchComposed,
    DespatchReceptacleRemoved,
    DespatchClosed,
    DespatchHandedOver,
    DespatchMessageWritten,
    DespatchCarrierReported,
    FailoverRequested,
    FailoverConfirmed,
    FailoverItemsMoved,
    FailoverReceptaclesAbandoned,
    FailbackRequested,
    FailbackConfirmed,
)
UPCASTERS: tuple[Upcaster, ...] = (ITEMS_ADDED_V1,)
