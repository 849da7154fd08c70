"""Events of incidents: export holds and the advisories that explain them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from postex.accounts.events import ACTOR_DOC, Actor
from postex.eventlog.catalogue import Event, doc, omit_none
from postex.eventlog.saw import SAW_DOC

SCOPE_DOC = "sites, destinations, services (empty: all) and goods_only"


@dataclass(frozen=True, slots=True)
class HoldPlaced(Event):
    TYPE: ClassVar[str] = "hold.placed.v1"
    hold_id: str
    scope: dict[str, Any] = field(metadata=doc(SCOPE_DOC))
    reason: str
    advisory: str | None = field(metadata=doc("customer-facing text"))
    advisory_id: str | None
    customer_facing: bool
    starts_at: str
    placed_by: Actor = field(metadata=doc(ACTOR_DOC))
    emergency: bool
    needs_confirmation: bool = field(metadata=doc("network-wide: a second person confirms"))
    in_force: bool
    item_count: int = field(metadata=doc("accepted items it held at once"))


@dataclass(frozen=True, slots=True)
class HoldConfirmed(Event):
    TYPE: ClassVar[str] = "hold.confirmed.v1"
    hold_id: str
    confirmed_by: Actor = field(metadata=doc(ACTOR_DOC))
    in_force: bool
    item_count: int
    advisory_id: str | None


@dataclass(frozen=True, slots=True)
class HoldActivated(Event):
    TYPE: ClassVar[str] = "hold.activated.v1"
    hold_id: str
    item_count: int


@dataclass(frozen=True, slots=True)
class HoldReleaseRequested(Event):
    TYPE: ClassVar[str] = "hold.release_requested.v1"
    hold_id: str
    request_id: str
    items: list[str] = field(metadata=doc("item ids to release (empty: by service or all)"))
    services: list[str]
    reason: str
    requested_by: Actor = field(metadata=doc(ACTOR_DOC))


@dataclass(frozen=True, slots=True)
class HoldReleased(Event):
    TYPE: ClassVar[str] = "hold.released.v1"
    hold_id: str
    item_count: int
    complete: bool = field(metadata=doc("the hold ends (not a partial release)"))
    reason: str
    released_by: Actor = field(metadata=doc(ACTOR_DOC))
    request_id: str | None
    confirmed_by: Actor | None


@dataclass(frozen=True, slots=True)
class HoldItemsHeld(Event):
    TYPE: ClassVar[str] = "hold.items_held.v1"
    hold_id: str
    items: list[list[str]] = field(metadata=doc("[item id, state it was held from, site] triples"))
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return [t[0] for t in self.items]


@dataclass(frozen=True, slots=True)
class HoldItemsReleased(Event):
    TYPE: ClassVar[str] = "hold.items_released.v1"
    hold_id: str
    items: list[list[str]] = field(metadata=doc("[item id, state it returns to] pairs"))
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return [p[0] for p in self.items]


@dataclass(frozen=True, slots=True)
class AdvisoryPublished(Event):
    TYPE: ClassVar[str] = "advisory.published.v1"
    advisory_id: str
    hold_id: str
    text: str
    scope: dict[str, Any] = field(metadata=doc(SCOPE_DOC))
    starts_at: str


@dataclass(frozen=True, slots=True)
class AdvisoryUpdated(Event):
    TYPE: ClassVar[str] = "advisory.updated.v1"
    advisory_id: str
    text: str


@dataclass(frozen=True, slots=True)
class AdvisoryClosed(Event):
    TYPE: ClassVar[str] = "advisory.closed.v1"
    advisory_id: str
    text: str


EVENTS: tuple[type[Event], ...] = (
    HoldPlaced,
    HoldConfirmed,
    HoldActivated,
    HoldReleaseRequested,
    HoldReleased,
    HoldItemsHeld,
    HoldItemsReleased,
    AdvisoryPublished,
    AdvisoryUpdated,
    AdvisoryClosed,
)
