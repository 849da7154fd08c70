"""``postex bench network``'s failover figure: from the confirmation of a failover at the
hub to the first successful bagging of a moved item at the survivor.

A fresh hub and two sites (Heathrow, GBLALA, and Gatwick, GBLGWA) in one process, as the
rest of the bench: Heathrow accepts ``items`` US items (its route), the hub and Gatwick
follow its log, Heathrow stops publishing (it is lost). Two operations leads ask and
confirm the failover at the hub; the clock starts when the confirmation is asked for. The
confirmation lists the moved items in the hub's log; Gatwick's follower applies it; Gatwick
tries every 20 ms to open a US receptacle and bag the first moved item (through its
effective routing, read again at most every 0.25 s) and the clock stops at the first
success. The figure therefore includes the hub's publisher, JetStream, Gatwick's follower
(verification and projection) and the routing refresh.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postex.accounts.app.auth import Principal, Role
from postex.accounts.app.staff import create_user
from postex.bootstrap import Container
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import PreAdvice
from postex.kernel.errors import PostexError, ValidationError

HUB, LOST, SURVIVOR = "HUB", "GBLALA", "GBLGWA"
SERIES = {"destination": "USJFKA", "category": "A", "subclass": "UN"}


@dataclass
class FailoverResult:
    seconds: float  # confirmation asked at the hub -> first moved item bagged at the survivor
    confirm_s: float  # the confirmation itself (listing the items), at the hub
    items_moved: int


def _lead(c: Container, name: str, site: str | None = None, role: str = "ops") -> Principal:
    made = create_user(c.ctx, name, role, site)
    return Principal("staff", made.record.id, Role(role), made.key_id, site=site)


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not check():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise ValidationError.single("bench", "timeout", timeout, what)
        time.sleep(0.01)


def bench_failover(
    make_net: Callable[[Path, str, int], Any], url: str, advice: PreAdvice, items: int = 200
) -> FailoverResult:
    """``make_net(work, url, sites)``: the bench's network of a hub and sites (bench/network.py
    ``Net``), passed in so that this module does not import that one back."""
    from postex.sites.app import failover as fo
    from postex.sites.app import receptacles as rcp
    from postex.sites.app.acceptance import Scan, accept

    work = Path(tempfile.mkdtemp(prefix="postex-bench-failover-"))
    net = make_net(work, url, 2)
    try:
        hub, lost, survivor = net.nodes[HUB], net.nodes[LOST], net.nodes[SURVIVOR]
        made = pre_advise(lost.ctx, net.customers[LOST], [advice] * items)
        sup = _lead(lost, "bench.sup.lost", LOST, "supervisor")
        for n in range(0, items, 500):
            accept(lost.site_ops, sup, LOST,
                   [Scan(i.id, i.weight_g) for i in made[n : n + 500]])  # fmt: skip
        net.start(follow=True)
        target = lost.store.head(LOST)[0]
        _wait(lambda: min(net.head(h, LOST) for h in (HUB, SURVIVOR)) >= target, 120,
              "the lost site's log to reach the hub and the survivor")  # fmt: skip
        one, two = _lead(hub, "bench.ops.one"), _lead(hub, "bench.ops.two")
        clerk = _lead(survivor, "bench.sup.survivor", SURVIVOR, "supervisor")
        ask = {"from_site": LOST, "to_site": SURVIVOR, "reason": "bench"}
        asked = fo.request_failover(hub.site_ops, one, ask)
        started = time.perf_counter()
        done = fo.confirm(hub.site_ops, two, asked.id)
        confirm_s = time.perf_counter() - started
        first = made[0].id
        while True:
            try:
                bag = rcp.open_receptacle(survivor.site_ops, clerk, SURVIVOR, **SERIES)
                rcp.add_items(survivor.site_ops, clerk, SURVIVOR, bag.id, [first])
                break
            except PostexError:
                if time.perf_counter() - started > 120:
                    raise
                time.sleep(0.02)
        return FailoverResult(time.perf_counter() - started, confirm_s, done.item_count)
    finally:
        net.close()
        shutil.rmtree(work, ignore_errors=True)
