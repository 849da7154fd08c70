"""Event records: what a use case asks to append, and what the log stores."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic

import orjson
from typing_extensions import TypeVar

from postex.eventlog.catalogue import Event

E = TypeVar("E", default=Any)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. ``type`` is a stable versioned string such as ``item.accepted.v1``."""

    type: str
    body: dict[str, Any]


# What a unit of work appends: a catalogue record, or a raw type and body (tests, drills).
AnyEvent = Event | NewEvent


@dataclass(slots=True)
class StoredEvent(Generic[E]):
    """One row of the log, exactly as hashed. ``data`` is the decoded body; ``event`` its
    catalogue record (set by the writer, or by the projections when they decode it)."""

    site: str
    seq: int
    recorded_at: str
    type: str
    body: bytes
    prev_hash: bytes
    hash: bytes
    _data: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    event: E = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = orjson.loads(self.body)
        return self._data


# A stored event as the database gives it: (site, seq, recorded_at, type, body, prev_hash,
# hash). Bulk readers (verification) work on these rather than on StoredEvent objects.
EventRow = tuple[str, int, str, str, bytes, bytes, bytes]


def rows_of(events: Iterable[StoredEvent]) -> Iterator[EventRow]:
    for e in events:
        yield (e.site, e.seq, e.recorded_at, e.type, e.body, e.prev_hash, e.hash)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: the log of ``site`` at ``seq`` ends in ``hash``."""

    site: str
    seq: int
    hash: bytes
    signed_at: str
    key_id: str
    signature: bytes
