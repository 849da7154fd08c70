"""``postex bench tracking``: public tracking lookups over real HTTP, and partner ingest.

A node is seeded with N items (default 1,000,000) through ``uow.append`` in large batches,
then served by ``postex serve`` (uvicorn) in its own process. This process is the load
generator: keep-alive HTTP/1.1 connections on asyncio streams, closed loop, bounded by
request count and time. The trivial endpoint (``/healthz``) of the same server is measured
in the same run for the ratio. Partner events are posted as JSON batches of 5,000.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

from postex.accounts.app.customers import create_customer
from postex.accounts.app.partners import create_partner
from postex.bootstrap import Container, build
from postex.cli.common import err, out, progress_bar
from postex.config import load_settings
from postex.eventlog.ports import UnitOfWork
from postex.eventlog.sql.admin import execute_raw
from postex.items.app.preadvice import aad
from postex.items.domain.items import parse_pre_advice
from postex.items.events import ItemPreAdvised
from postex.kernel.ids import S10
from postex.tracking.app.partner_events import MAX_BATCH

SEED_BATCH = 10_000
FIRST_SERIAL = 10_000_000
JOURNEY = ("EMD", "EDB", "EDG", "EMH", "EMI")
BENCH_WEIGHT_G = 120
ITEM = {
    "service": "tracked",
    "sender": {"name": "Bench Sender", "address_lines": ["1 Bench Street"], "city": "London",
               "postcode": "SW1A 1AA", "country": "GB"},
    "addressee": {"name": "Bench Addressee", "address_lines": ["2 Bench Avenue"],
                  "city": "New York", "region": "NY", "postcode": "10001", "country": "US"},
    "weight_g": BENCH_WEIGHT_G,
    "contents": {"category": "documents", "lines": []},
}  # fmt: skip


@dataclass
class Load:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def _item_id(n: int) -> str:
    return str(S10("LA", FIRST_SERIAL + n, "GB"))


def _pre_advised(
    c: Container, uow: UnitOfWork, customer: str, item_id: str, personal: dict[str, Any]
) -> ItemPreAdvised:
    """The pre-advice event ``pre_advise`` records for the one bench item shape."""
    return ItemPreAdvised(
        item_id=item_id,
        customer_id=customer,
        origin_site=c.ctx.site,
        service="tracked",
        destination="US",
        weight_g=BENCH_WEIGHT_G,
        customs_form=None,
        has_goods=False,
        sealed=c.ctx.vault.seal(uow, customer, aad(customer, item_id), personal),
    )


def seed(c: Container, total: int) -> tuple[str, int]:
    """Pre-advise ``total`` items in batches; return (customer id, items present)."""
    rows = execute_raw(c.engine, "SELECT count(*) FROM items")
    have = int(rows[0][0])
    if have >= total:
        err.print(f"{have} items already present: seeding skipped")
        return "", have
    customer = create_customer(c.ctx, "Bench Exports Ltd").record.id
    advice = parse_pre_advice(ITEM)
    personal = advice.personal()  # the same sender and addressee: converted once, sealed each
    with progress_bar("seeding items", total) as update:
        done = have
        while done < total:
            n = min(SEED_BATCH, total - done)
            with c.store.write(c.ctx.site) as uow:
                uow.append(
                    [_pre_advised(c, uow, customer, _item_id(i), personal)
                     for i in range(done, done + n)]
                )  # fmt: skip
            done += n
            update(done)
    return customer, total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, home: Path, port: int) -> subprocess.Popen[bytes]:
    """``postex serve`` in its own process, rate limits out of the way; wait until it answers."""
    env = {
        **os.environ,
        "POSTEX_PUBLIC_RATE": str(10**9),
        "POSTEX_PUBLIC_BURST": str(10**9),
        "POSTEX_WEBHOOK_WORKER_SECONDS": "0",
    }
    cmd = [sys.executable, "-m", "postex", "serve", "--db", url, "--home", str(home),
           "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    _, stderr = proc.communicate(timeout=10)
    err.print(f"[red]the server did not start[/red]: {stderr.decode(errors='replace')[-2000:]}")
    raise typer.Exit(2)


async def _connection(
    port: int, paths: list[str], load: Load, stop: float, left: list[int], seed: int
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rnd = random.Random(seed)
    try:
        while left[0] > 0 and time.perf_counter() < stop:
            left[0] -= 1
            path = paths[rnd.randrange(len(paths))]
            t0 = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if head[9:12] == b"200":
                load.latencies.append(time.perf_counter() - t0)
            else:
                load.errors += 1
    finally:
        writer.close()


def run_load(name: str, port: int, paths: list[str], conns: int, seconds: float, cap: int) -> Load:
    load = Load(name)

    async def main() -> None:
        left = [cap]
        stop = time.perf_counter() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(
            *[_connection(port, paths, load, stop, left, seed) for seed in range(conns)]
        )
        load.seconds = time.perf_counter() - t0

    asyncio.run(main())
    return load


def ingest(port: int, key: str, first: int, total_events: int) -> tuple[float, list[float]]:
    """Post JSON batches of journeys; return (events/s overall, per-batch rates).

    The request bodies are built before the clock starts: only the server's work is timed.
    """
    per_batch = MAX_BATCH // len(JOURNEY)
    base = datetime.now(UTC) - timedelta(minutes=10)
    times = [(base + timedelta(seconds=60 * k)).isoformat() for k in range(len(JOURNEY))]
    bodies = []
    for n in range(first, first + total_events // len(JOURNEY), per_batch):
        events = [
            {"item_id": _item_id(i), "event_code": code, "office": "USJFKA", "occurred_at": at}
            for i in range(n, n + per_batch)
            for code, at in zip(JOURNEY, times, strict=True)
        ]
        bodies.append((len(events), json.dumps({"events": events}).encode()))
    rates = []
    started = time.perf_counter()
    with httpx.Client(timeout=120) as client:
        for count, body in bodies:
            t0 = time.perf_counter()
            r = client.post(
                f"http://127.0.0.1:{port}/api/v1/partner/events",
                content=body,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            if r.status_code != 200 or r.json()["accepted"] != count:
                err.print(f"[red]ingest failed[/red]: {r.status_code} {r.text[:300]}")
                raise typer.Exit(2)
            rates.append(count / (time.perf_counter() - t0))
    return sum(c for c, _ in bodies) / (time.perf_counter() - started), rates


def bench_tracking(
    items: int,
    seconds: float,
    requests: int,
    conns: int,
    partner_events: int,
    port: int,
    db: str | None,
    home: str | None,
) -> None:
    """Print lookups/s against the trivial endpoint, p50/p99, and partner events/s."""
    work = Path(home) if home else Path(tempfile.mkdtemp(prefix="postex-bench-tracking-"))
    url = db or f"sqlite:///{work / 'bench.db'}"
    c = build(load_settings(db_url=url, home=str(work)), create=True)
    t0 = time.perf_counter()
    _, present = seed(c, items)
    seed_s = time.perf_counter() - t0
    key = create_partner(c.ctx, "Bench USPS", ["USJFKA"]).api_key
    c.close()
    err.print(f"node ready with {present} items ({seed_s:.0f} s); starting the server")
    port = port or free_port()
    proc = start_server(url, work, port)
    try:
        journeys = partner_events // len(JOURNEY)
        first = max(0, present - journeys)
        pick = random.Random(5)
        paths = [f"/api/v1/tracking/{_item_id(pick.randrange(present))}" for _ in range(10_000)]
        paths += [f"/api/v1/tracking/{_item_id(first + i)}" for i in range(0, journeys, 10)]
        events_rate, batch_rates = ingest(port, key, first, partner_events)
        trivial = run_load("trivial (/healthz)", port, ["/healthz"], conns, seconds, requests)
        lookups = run_load("public tracking", port, paths, conns, seconds, requests)
        trivial_again = run_load("trivial again", port, ["/healthz"], conns, seconds, requests)
    finally:
        proc.terminate()
        proc.wait(30)
    table = Table(title=f"postex bench tracking — {present:,} items, {conns} connections")
    for col in ("endpoint", "requests", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(col, justify="right" if col != "endpoint" else "left")
    for load in (trivial, lookups, trivial_again):
        table.add_row(
            load.name, str(len(load.latencies)), f"{load.rate:,.0f}", f"{load.pct(0.5):.1f}",
            f"{load.pct(0.99):.1f}", str(load.errors),
        )  # fmt: skip
    out.print(table)
    baseline = statistics.median([trivial.rate, trivial_again.rate])
    out.print(f"ratio tracking / trivial: {lookups.rate / baseline:.2f} (goal >= 0.5)")
    out.print(f"p99 of tracking: {lookups.pct(0.99):.1f} ms (goal < 50 ms)")
    out.print(
        f"partner events ingested: {events_rate:,.0f}/s overall, median batch "
        f"{statistics.median(batch_rates):,.0f}/s ({partner_events:,} events in batches of "
        f"{MAX_BATCH:,}; goal >= 5,000/s)"
    )
    out.print(f"machine: {platform.node()} {os.cpu_count()} cores; {' '.join(platform.uname())}")
