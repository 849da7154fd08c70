"""Export holds as stored: records, the query port, and the policy other use cases consult.

:class:`HoldPolicy` is the ``ExportPolicy`` (see :mod:`postex.eventlog.context`) of export
holds: pre-advice, acceptance, receptacles and despatches call ``ctx.enforce`` and an
active hold whose scope covers the item refuses with a HeldError naming the hold and
quoting its advisory. Items a hold released early are exempt from it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from postex.eventlog.ports import Clock, UnitOfWork
from postex.incidents.domain import HoldStatus, Scope, hold_status
from postex.kernel.errors import HeldError


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class HoldRecord:
    id: str
    scope: Scope
    reason: str
    advisory: str | None
    advisory_id: str | None
    customer_facing: bool
    starts_at: str
    placed_at: str
    placed_by: dict[str, Any]
    emergency: bool
    confirmed_at: str | None  # equals placed_at when no confirmation was needed
    confirmed_by: str | None
    activated_at: str | None
    released_at: str | None
    release_request: dict[str, Any] | None  # a release of a network-wide hold, unconfirmed
    held: int = 0  # items held now
    released: int = 0  # items released so far
    origin: str | None = None  # the log it was placed in (None: before fan-out recorded it)

    def status(self, now: datetime) -> HoldStatus:
        return hold_status(
            now=now,
            placed_at=parse_stamp(self.placed_at),
            starts_at=parse_stamp(self.starts_at),
            confirmed=self.confirmed_at is not None,
            released=self.released_at is not None,
        )


@dataclass(frozen=True)
class HeldItem:
    item_id: str
    hold_id: str
    site: str
    service: str
    destination: str
    has_goods: bool
    customs_form: str | None
    held_from: str
    held_at: str
    receptacles: tuple[str, ...] = ()  # open receptacles the item sits in (flagged)


@dataclass(frozen=True)
class FlaggedReceptacle:
    receptacle_id: str
    site: str
    held_items: int


class HoldRepository(Protocol):
    def get(self, hold_id: str) -> HoldRecord | None: ...

    def live(self) -> list[HoldRecord]:
        """Every hold not released (pending, expired, scheduled or active); without counts."""
        ...

    def all(self, site: str | None) -> list[HoldRecord]:
        """Every hold, newest first; with ``site``, only holds covering that site."""
        ...

    def candidates(self, scope: Scope) -> list[tuple[str, str, str]]:
        """(item id, state, site) of items at a site, in a holdable state, in ``scope``."""
        ...

    def held_by(self, hold_id: str) -> list[tuple[str, str, str]]:
        """(item id, held_from, service) of the items this hold holds now."""
        ...

    def holding(self, item_ids: Sequence[str]) -> dict[str, str]:
        """Item id -> id of the hold that holds it now, for those of ``item_ids`` held."""
        ...

    def is_released(self, hold_id: str, item_id: str) -> bool:
        """Whether the hold released this item early (it then flows despite the hold)."""
        ...

    def queue(
        self, site: str | None, hold_id: str | None, after: str | None, limit: int
    ) -> list[HeldItem]:
        """Held items by item id, after ``after``; flagged with their open receptacles."""
        ...

    def flagged(self, site: str | None) -> list[FlaggedReceptacle]:
        """Open receptacles that contain held items (none may be closed with them inside)."""
        ...


@dataclass
class ReleaseOutcome:
    hold: HoldRecord
    released: list[str] = field(default_factory=list)
    pending: bool = False  # waits for a second ops user's confirmation
    request_id: str | None = None


# --- the policy pre-advice, acceptance, receptacles and despatches consult ---------------
class HoldPolicy:
    """The ExportPolicy of export holds (registered in ``ctx.policies`` by bootstrap).

    Live holds are read once per unit of work, so a 10,000-item manifest costs one query.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._cache: weakref.WeakKeyDictionary[Any, list[HoldRecord]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _active(self, uow: UnitOfWork) -> list[HoldRecord]:
        with self._lock:
            holds = self._cache.get(uow)
        if holds is None:
            now = self.clock.now()
            live = uow.repo(HoldRepository).live()
            holds = [h for h in live if h.status(now) is HoldStatus.ACTIVE]
            with self._lock:
                self._cache[uow] = holds
        return holds

    def check(self, uow: UnitOfWork, action: str, subject: Mapping[str, Any]) -> None:
        for hold in self._active(uow):
            if not hold.scope.matches(subject):
                continue
            item_id = subject.get("item_id")
            if item_id and uow.repo(HoldRepository).is_released(hold.id, str(item_id)):
                continue
            advice = hold.advisory or "exports in this scope are suspended"
            raise HeldError(
                f"{action.replace('_', '-')} refused: exports are on hold ({hold.id}). {advice}",
                hold_id=hold.id,
                advisory=hold.advisory,
            )
