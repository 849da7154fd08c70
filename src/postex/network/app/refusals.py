"""Refused messages as one aggregated alarm per source, not one alarm per message.

Anyone who can publish on NATS can send messages the hub refuses. Each refusal is counted
under a *source*: all sites the hub has no key for together (kind ``unknown-publisher``),
or one known site and what was wrong (``unsigned-message``, ``bad-message-signature``).
Each source has at most one open alarm, created at the first refusal and then updated
(``N messages naming M sites in the last 10 min``) rather than multiplied; the operator
clears it in one action, and a refusal after that opens a new one. None of these alarms
means the hub's copies changed: nothing refused is stored (see :data:`PUBLISHER_KINDS`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from postex.eventlog.chain import format_time
from postex.eventlog.ports import Clock

UNKNOWN_PUBLISHER = "unknown-publisher"
UNSIGNED = "unsigned-message"
BAD_SIGNATURE = "bad-message-signature"
# Alarms about messages the hub refused and did not store: an honest signal that someone
# without a site's key publishes on NATS, but not a fault in any copy (docs/security.md).
PUBLISHER_KINDS = frozenset({UNKNOWN_PUBLISHER, UNSIGNED, BAD_SIGNATURE})
UNKNOWN_SOURCE = "*"  # the alarm's site for every site the hub has no key for
WINDOW_S = 600.0
WRITE_EVERY_S = 1.0  # an open alarm's text is rewritten at most this often (and on flush)
NAMED = 5  # sites named in the text of an unknown-publisher alarm
MAX_NAMES = 10_000  # distinct invented sites remembered per window


class AlarmWriter(Protocol):
    """The part of :class:`postex.network.app.hub.ReplicationState` this module uses."""

    def upsert_alarm(self, site: str, kind: str, detail: str, at: str) -> int: ...


@dataclass
class _Source:
    """Refusals of one source: counts per second, and the sites named with when last named
    (at most :data:`MAX_NAMES`, so memory stays bounded whatever a flood invents)."""

    seconds: deque[list[float]] = field(default_factory=deque)  # [second, count]
    names: dict[str, float] = field(default_factory=dict)
    names_full: bool = False
    latest: str = ""
    written: float = float("-inf")
    dirty: bool = False

    def add(self, now: float, named: str) -> None:
        second = float(int(now))
        if self.seconds and self.seconds[-1][0] == second:
            self.seconds[-1][1] += 1
        else:
            self.seconds.append([second, 1])
        if named in self.names or len(self.names) < MAX_NAMES:
            self.names[named] = now
        else:
            self.names_full = True

    def forget_before(self, oldest: float) -> None:
        while self.seconds and self.seconds[0][0] < oldest:
            self.seconds.popleft()
        if self.names and min(self.names.values()) < oldest:
            self.names = {n: t for n, t in self.names.items() if t >= oldest}
            self.names_full = False


@dataclass
class RefusalAlarms:
    """Count refusals per source over a sliding window; keep one open alarm per source."""

    state: AlarmWriter
    clock: Clock
    window_s: float = WINDOW_S
    monotonic: Callable[[], float] = time.monotonic
    _sources: dict[tuple[str, str], _Source] = field(default_factory=dict)

    def refuse(self, source: str, kind: str, named: str, latest: str) -> None:
        """Count one refused message; ``named`` is the site its subject names (may be
        invented), ``latest`` why it was refused (never its payload)."""
        now = self.monotonic()
        src = self._sources.setdefault((source, kind), _Source())
        src.add(now, named)
        src.latest, src.dirty = latest, True
        if now - src.written >= WRITE_EVERY_S:
            self._write(source, kind, src, now)

    def flush(self) -> None:
        """Bring every open alarm's text up to date (the consumer calls this when idle)."""
        now = self.monotonic()
        for (source, kind), src in self._sources.items():
            if src.dirty:
                self._write(source, kind, src, now)

    def _write(self, source: str, kind: str, src: _Source, now: float) -> None:
        src.forget_before(now - self.window_s)
        count = int(sum(c for _, c in src.seconds))
        minutes = f"{self.window_s / 60:g} min"
        if source == UNKNOWN_SOURCE:
            names = sorted(src.names)
            shown = ", ".join(names[:NAMED]) + (", …" if len(names) > NAMED else "")
            many = f"more than {MAX_NAMES}" if src.names_full else str(len(names))
            detail = (
                f"unknown sites: {count} message(s) naming {many} site(s) in the last "
                f"{minutes} ({shown}), ignored, nothing stored; latest: {src.latest}"
            )
        else:
            detail = (
                f"{count} message(s) on {source}'s subjects refused in the last {minutes}, "
                f"nothing stored; latest: {src.latest}"
            )
        self.state.upsert_alarm(source, kind, detail, format_time(self.clock.now()))
        src.written, src.dirty = now, False
