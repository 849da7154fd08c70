"""Event records: what a use case asks to append, and what the log stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. ``type`` is a stable versioned string such as ``item.accepted.v1``."""

    type: str
    body: dict[str, Any]


@dataclass(slots=True)
class StoredEvent:
    """One row of the log, exactly as hashed. ``data`` is the decoded body."""

    site: str
    seq: int
    recorded_at: str
    type: str
    body: bytes
    prev_hash: bytes
    hash: bytes
    _data: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = orjson.loads(self.body)
        return self._data


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: the log of ``site`` at ``seq`` ends in ``hash``."""

    site: str
    seq: int
    hash: bytes
    signed_at: str
    key_id: str
    signature: bytes
