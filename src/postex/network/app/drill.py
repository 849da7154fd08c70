"""The ransomware drill's pieces that are pure use cases: traffic, seeding, the result.

The orchestration (two nodes, NATS, destroying a file) is in the CLI; what happens at the
site is ordinary business through the same use cases as the API.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from postex.eventlog.context import Context
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import parse_pre_advice
from postex.items.samples import demo_item
from postex.kernel.errors import PostexError
from postex.network.events import DrillTick


@dataclass
class Traffic:
    """Pre-advice batches for one customer, in a thread, until stopped."""

    ctx: Context
    customer_id: str
    batch: int = 10
    pause_s: float = 0.01
    items: int = 0
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def one_batch(self, rng: random.Random) -> None:
        advices = [parse_pre_advice(demo_item(rng)) for _ in range(self.batch)]
        pre_advise(self.ctx, self.customer_id, advices)
        self.items += len(advices)

    def _run(self) -> None:
        rng = random.Random(7)  # noqa: S311 - test data, not secrets
        while not self._stop.is_set():
            try:
                self.one_batch(rng)
            except PostexError as exc:  # a refused batch is counted, not fatal
                self.errors.append(exc.detail)
            time.sleep(self.pause_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


def seed_ticks(ctx: Context, count: int, batch: int = 10_000, progress: object = None) -> int:
    """Append ``count`` small synthetic events in large batches (benchmarks and drills)."""
    done = 0
    while done < count:
        n = min(batch, count - done)
        with ctx.store.write(ctx.site) as uow:
            uow.append([DrillTick(n=done + i) for i in range(n)])
        done += n
        if callable(progress):
            progress(done)
    return done


@dataclass(frozen=True)
class DrillResult:
    site_head_at_destruction: int
    replicated_at_destruction: int
    restored_events: int
    restore_seconds: float
    rto_seconds: float
    verified: bool
    hub_verified: bool
    traffic_items_before: int
    traffic_items_after: int

    @property
    def rpo_events(self) -> int:
        """Events the site had written but not replicated when it was destroyed."""
        return self.site_head_at_destruction - self.replicated_at_destruction

    @property
    def ok(self) -> bool:
        return self.verified and self.hub_verified and self.traffic_items_after > 0
