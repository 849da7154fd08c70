"""``postex bench holds``: the cost of export holds through the app layer.

Set-up (not timed): a fresh node, N goods items accepted at GBLALA. Timed, each ``--runs``
times and reported as medians: placing and confirming a network-wide goods hold over the N
accepted items, releasing it, and pre-advising a batch of documents letters with no hold
(the same-run baseline) and under an active hold they fall outside of (the policy's cost).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from rich.table import Table

from postex.accounts.app.auth import Principal, Role, issue_token
from postex.accounts.app.customers import create_customer
from postex.bootstrap import Container, build
from postex.cli.common import err, out, progress_bar
from postex.config import load_settings
from postex.incidents.app.holds import confirm_hold, place_hold, release_hold
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import PreAdvice, parse_pre_advice
from postex.sites.app.acceptance import Scan, accept

SITE = "GBLALA"
ADDRESSEE = {"name": "Bench Addressee", "address_lines": ["2200 Juniper Boulevard"],
             "city": "New York", "region": "NY", "postcode": "10001", "country": "US"}  # fmt: skip
SENDER = {"name": "Bench Sender", "address_lines": ["1 High Street"], "city": "London",
          "postcode": "SW1A 1AA", "country": "GB"}  # fmt: skip
GOODS: dict[str, Any] = {
    "service": "tracked", "sender": SENDER, "addressee": ADDRESSEE, "weight_g": 450,
    "contents": {"category": "sale_of_goods", "lines": [{
        "description": "Cotton T-shirt", "quantity": 1, "net_weight_g": 400,
        "value_minor": 1500, "currency": "GBP", "hs_code": "610910", "origin_country": "GB"}]},
}  # fmt: skip
LETTER: dict[str, Any] = {
    "service": "standard_letter", "sender": SENDER, "addressee": ADDRESSEE, "weight_g": 60,
    "contents": {"category": "documents", "lines": []},
}  # fmt: skip
HOLD = {"scope": {"goods_only": True}, "reason": "bench", "advisory": "Hold goods (bench)."}


def _ops(c: Container, user: str) -> Principal:
    token = issue_token("staff", user, Role.OPS, name=user)
    with c.ctx.store.write(c.ctx.site) as uow:
        uow.append([token.event])
    return Principal("staff", user, Role.OPS, token.key_id, name=user)


def _setup(c: Container, items: int) -> str:
    customer = create_customer(c.ctx, "Bench Exports").record.id
    clerk_token = issue_token("staff", "usr_bench_clerk", Role.CLERK, site=SITE)
    with c.ctx.store.write(c.ctx.site) as uow:
        uow.append([clerk_token.event])
    clerk = Principal("staff", "usr_bench_clerk", Role.CLERK, clerk_token.key_id, site=SITE)
    goods = parse_pre_advice(GOODS)
    with progress_bar("set-up: pre-advise and accept", items) as update:
        done = 0
        while done < items:
            n = min(500, items - done)
            ids = [r.id for r in pre_advise(c.ctx, customer, [goods] * n)]
            accept(c.site_ops, clerk, SITE, [Scan(i, GOODS["weight_g"]) for i in ids])
            done += n
            update(done)
    return customer


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _pre_advise(c: Container, customer: str, letter: PreAdvice, batch: int) -> float:
    return _timed(lambda: pre_advise(c.ctx, customer, [letter] * batch))


def bench_holds(items: int, batch: int, runs: int, db: str | None, home: str | None) -> None:
    """Print the medians of ``runs`` runs over ``items`` accepted items (see the module)."""
    work = Path(home) if home else Path(tempfile.mkdtemp(prefix="postex-bench-holds-"))
    url = db or f"sqlite:///{work / 'bench.db'}"
    c = build(load_settings(home=str(work), db_url=url, site=SITE), create=True)
    try:
        customer = _setup(c, items)
        ops1, ops2 = _ops(c, "usr_bench_ops1"), _ops(c, "usr_bench_ops2")
        letter = parse_pre_advice(LETTER)
        base, under, place, release = [], [], [], []
        for run in range(runs):
            err.print(f"run {run + 1}/{runs}")
            base.append(_pre_advise(c, customer, letter, batch))
            start = time.perf_counter()
            hold = place_hold(c.ctx, ops1, HOLD)
            confirmed = confirm_hold(c.ctx, ops2, hold.id).hold
            place.append(time.perf_counter() - start)
            if confirmed.held != items:
                raise RuntimeError(f"held {confirmed.held} items, expected {items}")
            under.append(_pre_advise(c, customer, letter, batch))
            body = {"emergency": True, "reason": "bench"}
            release.append(_timed(partial(release_hold, c.ctx, ops1, hold.id, body)))
    finally:
        c.close()
    table = Table(title=f"postex bench holds ({c.engine.dialect.name}, {runs} runs)")
    for col in ("phase", "items", "median s", "items/s"):
        table.add_column(col, justify="right" if col != "phase" else "left")
    for name, n, times in (
        ("pre-advice, no hold (baseline)", batch, base),
        ("pre-advice, under a hold", batch, under),
        ("place + confirm network hold", items, place),
        ("release (all items)", items, release),
    ):
        med = statistics.median(times)
        table.add_row(name, f"{n:,}", f"{med:.3f}", f"{n / med:,.0f}")
    out.print(table)
    ratio = statistics.median(under) / statistics.median(base)
    out.print(f"pre-advice under a hold takes {ratio:.2f}x the baseline time")
