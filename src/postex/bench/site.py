"""``postex bench site``: a day at one export site through the app layer.

Pre-advice is set-up (not timed). Timed: acceptance (batched scans), sorting into
receptacles (batched adds, one close per bag), and composing, closing (bill, PREDES,
ITMATT) and handing over every despatch (CARDIT, EMC).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from postex.accounts.app.auth import Principal, Role
from postex.accounts.app.customers import create_customer
from postex.accounts.app.staff import create_user
from postex.bootstrap import Container, build
from postex.cli.common import err, out, progress_bar
from postex.config import load_settings
from postex.items.app.preadvice import ItemRecord, pre_advise
from postex.items.domain.items import PreAdvice, parse_pre_advice
from postex.kernel.errors import ValidationError
from postex.sites.app import despatches as dsp
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from postex.sites.app.ops import SiteOps

SITE = "GBLALA"
BATCH = 500
ITEM_G = 450  # a small tracked letter: ~66 to a 30 kg bag


@dataclass
class Phase:
    name: str
    units: int = 0
    seconds: float = 0.0
    rates: list[float] = field(default_factory=list)

    def add(self, units: int, seconds: float) -> None:
        self.units += units
        self.seconds += seconds
        self.rates.append(units / seconds if seconds else 0.0)


def _advices() -> list[PreAdvice]:
    """One valid tracked letter for each country GBLALA sends letter post to."""
    from postex.kernel.addressing import country_rules
    from postex.kernel.network import load_network

    base: dict[str, Any] = {
        "service": "tracked",
        "sender": {"name": "Bench Sender", "address_lines": ["1 High Street"],
                   "city": "London", "postcode": "SW1A 1AA", "country": "GB"},
        "weight_g": ITEM_G,
        "contents": {"category": "sale_of_goods", "lines": [{
            "description": "Cotton T-shirt", "quantity": 1, "net_weight_g": 400,
            "value_minor": 1500, "currency": "GBP", "hs_code": "610910",
            "origin_country": "GB"}]},
    }  # fmt: skip
    found = []
    for route in load_network().routes:
        if route.origin != SITE or route.mail_class != "U":
            continue
        country = route.destination_country
        rules = country_rules(country)
        addressee = {"name": "Bench Addressee", "address_lines": ["2 Main Street"],
                     "city": "Capital", "postcode": rules.postcode_example or None,
                     "country": country}  # fmt: skip
        if rules.region_example:
            addressee["region"] = rules.region_example
        try:
            found.append(parse_pre_advice({**base, "addressee": addressee}))
        except ValidationError:
            continue
    return found


def _staff(c: Container, role: str) -> Principal:
    made = create_user(c.ctx, f"bench.{role}", role, SITE)
    return Principal("staff", made.record.id, Role(role), made.key_id, site=SITE)


def _prepare(c: Container, n: int) -> list[ItemRecord]:
    customer = create_customer(c.ctx, "Bench Exports Ltd").record.id
    advices = _advices()
    items: list[ItemRecord] = []
    with progress_bar("pre-advice (set-up)", n) as update:
        while len(items) < n:
            size = min(1000, n - len(items))
            batch = [advices[(len(items) + k) % len(advices)] for k in range(size)]
            items += pre_advise(c.ctx, customer, batch)
            update(len(items))
    return items


def _run(c: Container, n: int, label: str) -> dict[str, Any]:
    ops: SiteOps = c.site_ops
    items = _prepare(c, n)
    clerk, boss = _staff(c, "clerk"), _staff(c, "supervisor")
    phases = {k: Phase(k) for k in ("accept", "sort", "despatch")}
    started = time.perf_counter()
    with progress_bar(f"{label}: acceptance", n) as update:
        for i in range(0, n, BATCH):
            chunk = items[i : i + BATCH]
            t0 = time.perf_counter()
            accept(ops, clerk, SITE, [Scan(x.id, x.weight_g) for x in chunk])
            phases["accept"].add(len(chunk), time.perf_counter() - t0)
            update(i + len(chunk))
    by_series: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for x in items:
        r = ops.network.route(x.destination, "U")
        by_series[(r.destination, r.category, r.subclass)].append(x.id)
    per_bag = ops.rules.receptacle_limit_g // ITEM_G
    with progress_bar(f"{label}: sorting", n) as update:
        done = 0
        for (dest, cat, sub), ids in by_series.items():
            for i in range(0, len(ids), per_bag):
                bagged = ids[i : i + per_bag]
                t0 = time.perf_counter()
                bag = rcp.open_receptacle(ops, clerk, SITE, dest, cat, sub)
                rcp.add_items(ops, clerk, SITE, bag.id, bagged)
                last = i + per_bag >= len(ids)
                rcp.close_receptacle(ops, clerk, SITE, bag.id, len(bagged) * ITEM_G + 300, last)
                phases["sort"].add(len(bagged), time.perf_counter() - t0)
                done += len(bagged)
                update(done)
    despatched = 0
    with progress_bar(f"{label}: despatches", len(by_series)) as update:
        for k, (dest, cat, sub) in enumerate(by_series, start=1):
            t0 = time.perf_counter()
            bags = [b.id for b in rcp.list_receptacles(ops, boss, SITE, "closed")
                    if (b.destination, b.category, b.subclass) == (dest, cat, sub)]  # fmt: skip
            d = dsp.compose(ops, boss, SITE, bags)
            carrier = next(r.carrier.code for r in ops.network.routes if r.destination == dest)
            flight = f"{carrier}{100 + k:04d}"
            today = c.ctx.clock.now().date().isoformat()
            dsp.close_despatch(ops, boss, SITE, d.id, carrier, flight, today)
            dsp.hand_over(ops, boss, SITE, d.id, carrier, flight, today)
            phases["despatch"].add(d.item_count, time.perf_counter() - t0)
            despatched += 1
            update(k)
    total = time.perf_counter() - started
    return {"label": label, "phases": phases, "total": total, "despatches": despatched}


def _table(results: list[dict[str, Any]], n: int) -> Table:
    table = Table(title=f"postex bench site: {n:,} items at {SITE}")
    for col in ("store", "phase", "units", "seconds", "units/s (total)", "units/s (median)"):
        table.add_column(col, justify="right" if col not in ("store", "phase") else "left")
    for res in results:
        for ph in res["phases"].values():
            table.add_row(res["label"], ph.name, f"{ph.units:,}", f"{ph.seconds:.1f}",
                          f"{ph.units / ph.seconds:,.0f}" if ph.seconds else "-",
                          f"{statistics.median(ph.rates):,.0f}" if ph.rates else "-")  # fmt: skip
        scans = sum(p.units for p in res["phases"].values())
        table.add_row(res["label"], f"day ({res['despatches']} despatches)", f"{scans:,} scans",
                      f"{res['total']:.1f}", f"{scans / res['total']:,.0f}", "")  # fmt: skip
    return table


def _fresh(url: str | None, home: Path) -> Container:
    db = url or f"sqlite:///{home / 'bench.db'}"
    return build(load_settings(home=str(home), db_url=db, site=SITE), create=True)


def bench_site(items: int, postgres: str | None, db: str | None, home: str | None) -> None:
    """Print each phase's rate for a day of ``items`` items, on SQLite and on ``postgres``.

    SQLite runs on a fresh file (or ``db``, which must be empty).
    """
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(home) if home else Path(tmp)
        targets = [("sqlite", db)] + ([("postgresql", postgres)] if postgres else [])
        for label, url in targets:
            c = _fresh(url, base / label)
            try:
                results.append(_run(c, items, label))
            finally:
                c.close()
    out.print(_table(results, items))
    for res in results:
        rate = res["phases"]["accept"]
        err.print(f"{res['label']}: acceptance {rate.units / rate.seconds:,.0f} scans/s")
