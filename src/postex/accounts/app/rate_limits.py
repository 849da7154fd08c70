"""Rate limits shared by every server process on one database: a sliding window per key.

Each key has one row: the index of its current window, the requests counted in it and in
the window before. A request is allowed when the previous window's count, weighted by the
part of it still inside the sliding window, plus the current count stays within the limit
(the estimate of Cloudflare's and nginx's sliding-window limiters). The store answers in
one statement (an UPSERT that counts the request only if allowed), so processes share one
budget without a lock held between requests. Refused requests are not counted: a client
a little over its rate still gets its rate, as with a token bucket.

The window is ``burst / rate`` seconds long and admits ``burst`` requests: the same average
rate and the same largest burst as the in-process token bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


class RateWindows(Protocol):
    def take(self, key: str, window: int, keep: float, limit: int) -> bool:
        """Count a request of ``key`` in window number ``window`` if the estimate allows it.

        ``keep`` is the share (0..1] of the previous window still inside the sliding window;
        True if the request was allowed (and counted), False if not (nothing counted).
        """
        ...


@dataclass(frozen=True)
class SlidingWindow:
    """Where ``now`` (seconds, the wall clock shared by all processes) falls."""

    seconds: float
    limit: int

    @classmethod
    def of(cls, rate: float, burst: int) -> SlidingWindow:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        return cls(max(burst / rate, 0.001), burst)

    def position(self, now: float) -> tuple[int, float]:
        """(window number, share of the previous window still counted)."""
        index = math.floor(now / self.seconds)
        elapsed = now / self.seconds - index
        return index, 1.0 - elapsed

    def retry_after(self, now: float) -> int:
        """Whole seconds until the current window ends (at least 1)."""
        index = math.floor(now / self.seconds)
        return max(1, math.ceil((index + 1) * self.seconds - now))
