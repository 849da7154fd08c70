"""``saw``: the version of each item an event changes, as its writer saw it.

An event that changes items (it has :meth:`ChangesItems.changed_items`) carries in its body
an optional ``saw``: for each changed item the last event applied to that item in the
writing node's tables when the event was written, as ``[log, seq, hash in hex]``::

    "saw": {"LA100000003GB": ["HUB", 12, "9f2c…"]}

Items with no known version (projected before versions were kept), or whose version is in
the writer's own log (its seq order already orders them), are left out, and so is ``saw``
itself when no item has one; events written before ``saw`` existed have none and
stay valid. A node projects an event only once every event it saw is applied there
(:func:`needs`); docs/log-format.md, "Rules across logs".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from postex.eventlog.events import StoredEvent

SAW_DOC = (
    "the version of each item changed, as the writing node saw it: {item id: [log, seq, "
    "hash hex]} (absent: none known; docs/log-format.md)"
)


# One saw entry: (log, seq, hash).
Version = tuple[str, int, bytes]


@runtime_checkable
class ChangesItems(Protocol):
    """A catalogue record whose event changes items: it names them and records ``saw``."""

    @property
    def saw(self) -> dict[str, list[Any]] | None: ...

    def changed_items(self) -> list[str]: ...


def saw_body(versions: Mapping[str, Version]) -> dict[str, list[Any]] | None:
    """The ``saw`` value for items' versions (None when there is none)."""
    if not versions:
        return None
    return {item: [v[0], v[1], v[2].hex()] for item, v in sorted(versions.items())}


def needs(event: StoredEvent[Any]) -> list[Version]:
    """The distinct versions an event saw (none for an event without ``saw``)."""
    if b'"saw"' not in event.body:  # most events: no need to decode the body
        return []
    saw = event.data.get("saw")
    if not isinstance(saw, dict):
        return []
    found: set[Version] = set()
    for entry in saw.values():
        if isinstance(entry, list) and len(entry) == 3:
            site, seq, digest = entry
            if isinstance(site, str) and isinstance(seq, int) and isinstance(digest, str):
                try:
                    found.add((site, seq, bytes.fromhex(digest)))
                except ValueError:
                    continue
    return sorted(found)


@dataclass(frozen=True)
class Blocked:
    """Why an event of ``site`` at ``seq`` is not projected: it saw ``on`` and that event is
    not applied here yet (``found`` None) or is applied with the hash ``found``."""

    site: str
    seq: int
    on: Version
    found: bytes | None = None

    @property
    def mismatch(self) -> bool:
        return self.found is not None and self.found != self.on[2]

    def describe(self) -> str:
        on_site, on_seq, want = self.on
        if self.mismatch:
            assert self.found is not None
            return (
                f"{self.site} seq {self.seq} saw {on_site} seq {on_seq} with hash "
                f"{want.hex()[:16]}…, but the event applied here has {self.found.hex()[:16]}…"
            )
        return f"{self.site} seq {self.seq} waits for {on_site} seq {on_seq}"


@dataclass(frozen=True)
class Wait:
    """A log projected here through ``projected_seq`` whose next event is ``blocked``
    (since ``since``): its later events are stored, not projected."""

    site: str
    projected_seq: int
    blocked: Blocked
    since: str
    # The node's own log, written to while it waited: events from this seq on were
    # projected as they were written, so releasing the log projects only those before.
    live_from: int | None = None

    def to_json(self) -> dict[str, Any]:
        on_site, on_seq, want = self.blocked.on
        return {
            "log": self.site, "projected_seq": self.projected_seq,
            "waits_for": {"log": on_site, "seq": on_seq, "hash": want.hex()},
            "hash_differs": self.blocked.mismatch,
            "found_hash": self.blocked.found.hex() if self.blocked.found else None,
            "since": self.since,
        }  # fmt: skip


@dataclass(frozen=True)
class Imported:
    """What copying in a run of another node's events did: how many were stored, and the
    logs left waiting for a fault (each one an alarm: the log waits until the cause is
    fixed): held back by a ``saw`` whose hash differs from the event applied here, or
    released but refused by a projection."""

    stored: int
    mismatched: tuple[Wait, ...] = ()
    # Logs whose dependencies were met but whose release a projection refused (a
    # constraint): they keep waiting, retried with every later run; each one an alarm.
    refused: tuple[Wait, ...] = ()
