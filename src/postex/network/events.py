"""Events of the network's own: synthetic load for recovery drills."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from postex.eventlog.catalogue import Event


@dataclass(frozen=True, slots=True)
class DrillTick(Event):
    """A synthetic event that fills a drill's log; no projection reads it."""

    TYPE: ClassVar[str] = "drill.tick.v1"
    n: int


EVENTS: tuple[type[Event], ...] = (DrillTick,)
