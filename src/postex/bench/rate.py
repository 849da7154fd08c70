"""``postex bench rate-limit``: what a shared (database) rate limit costs per request.

Set-up (not timed): a fresh node and ``--keys`` key ids. Timed, each ``--runs`` times and
reported as medians:

- one thread: ``--requests`` checks spread over the keys with the in-process token bucket,
  then with the shared limiter (a budget no request exceeds, so every check is an UPSERT);
- ``--threads`` threads checking at once with the shared limiter (throughput, p50/p99);
- the shared limiter while another thread pre-advises ``--batch`` letters per transaction
  without pause (a check waits behind the log writer on SQLite);
- end to end: ``GET /api/v1/webhooks`` through the ASGI app with each limiter.

Each row is the run with the median p50 latency.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rich.table import Table

from postex.accounts.app.customers import create_customer
from postex.bench.holds import LETTER
from postex.bootstrap import Container, build
from postex.cli.common import err, out
from postex.config import load_settings
from postex.http.limits import RateLimiter, SharedRateLimiter
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import parse_pre_advice
from postex.server import create_app

BIG = 10**9  # a budget no benchmark run exceeds: every check is allowed


def _limiters(c: Container) -> tuple[RateLimiter, SharedRateLimiter]:
    return RateLimiter(BIG, BIG), SharedRateLimiter(c.rate_windows, BIG, BIG)


def _latencies(check: Callable[[str], None], keys: list[str], n: int) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        check(keys[i % len(keys)])
        times.append(time.perf_counter() - start)
    return times


def _pct(times: list[float], p: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def _threads(check: Callable[[str], None], keys: list[str], n: int, k: int) -> list[float]:
    """``k`` threads, ``n`` checks each: all latencies (the wall time is measured outside)."""
    out: list[list[float]] = [[] for _ in range(k)]
    start = threading.Barrier(k)

    def run(i: int) -> None:
        start.wait()
        out[i] = _latencies(check, keys[i::k] or keys, n)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(k)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return [t for part in out for t in part]


def _under_writes(c: Container, check: Callable[[str], None], keys: list[str], n: int,
                  batch: int) -> tuple[list[float], int]:  # fmt: skip
    """Checks while a writer pre-advises ``batch`` letters per transaction: (latencies, items)."""
    customer = create_customer(c.ctx, "Bench Rate Writer").record.id
    letter = parse_pre_advice(LETTER)
    stop = threading.Event()
    written = [0]

    def write() -> None:
        while not stop.is_set():
            written[0] += len(pre_advise(c.ctx, customer, [letter] * batch))

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(0.2)  # the writer is running
        return _latencies(check, keys, n), written[0]
    finally:
        stop.set()
        writer.join()


def _http(c: Container, shared: bool, n: int) -> list[float]:
    # Imported here: importing the test client at CLI start-up printed a deprecation
    # warning on every `postex` command.
    from fastapi.testclient import TestClient

    created = create_customer(c.ctx, f"Bench Rate {'shared' if shared else 'local'}")
    headers = {"Authorization": f"Bearer {created.api_key}"}
    application = create_app(c)
    limiter = (SharedRateLimiter(c.rate_windows, BIG, BIG) if shared
               else RateLimiter(BIG, BIG))  # fmt: skip
    application.state.customer_limiter = limiter
    with TestClient(application) as client:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            r = client.get("/api/v1/webhooks", headers=headers)
            times.append(time.perf_counter() - start)
            if r.status_code != 200:
                raise RuntimeError(f"GET /api/v1/webhooks answered {r.status_code}")
    return times


def bench_rate_limit(
    requests: int, keys: int, threads: int, batch: int, runs: int, db: str | None, home: str | None
) -> None:
    """Print each limiter's per-request latencies, the medians of ``runs`` runs (see the module)."""
    work = Path(home) if home else Path(tempfile.mkdtemp(prefix="postex-bench-rate-"))
    url = db or f"sqlite:///{work / 'bench.db'}"
    c = build(load_settings(home=str(work), db_url=url, webhook_worker_seconds=0), create=True)
    rows: list[tuple[str, list[float], float]] = []  # (phase, latencies, wall seconds)
    try:
        local, shared = _limiters(c)
        names = [f"bench_key_{i:05d}" for i in range(keys)]
        phases: dict[str, list[tuple[list[float], float]]] = {}

        def record(name: str, fn: Callable[[], list[float]]) -> None:
            start = time.perf_counter()
            times = fn()
            phases.setdefault(name, []).append((times, time.perf_counter() - start))

        for run in range(runs):
            err.print(f"run {run + 1}/{runs}")
            record("in-process bucket, 1 thread",
                   lambda: _latencies(local.check, names, requests))  # fmt: skip
            record("shared window, 1 thread",
                   lambda: _latencies(shared.check, names, requests))  # fmt: skip
            record(f"shared window, {threads} threads", lambda: _threads(
                shared.check, names, requests // threads, threads))  # fmt: skip
            record(f"shared window, writer of {batch}-item batches running",
                   lambda: _under_writes(c, shared.check, names, requests, batch)[0])  # fmt: skip
            record("GET /api/v1/webhooks, in-process bucket",
                   lambda: _http(c, False, max(requests // 5, 100)))  # fmt: skip
            record("GET /api/v1/webhooks, shared window",
                   lambda: _http(c, True, max(requests // 5, 100)))  # fmt: skip
        for name, results in phases.items():
            ranked = sorted(results, key=lambda r: statistics.median(r[0]))
            middle = ranked[len(ranked) // 2]  # the median run
            rows.append((name, middle[0], middle[1]))
    finally:
        c.close()
    title = f"postex bench rate-limit ({c.engine.dialect.name}, {runs} runs)"
    table = Table(title=title)
    for col in ("phase", "requests", "p50 µs", "p99 µs", "max ms", "requests/s"):
        table.add_column(col, justify="right" if col != "phase" else "left")
    for name, times, wall in rows:
        table.add_row(
            name,
            f"{len(times):,}",
            f"{_pct(times, 0.5) * 1e6:,.0f}",
            f"{_pct(times, 0.99) * 1e6:,.0f}",
            f"{max(times) * 1e3:,.1f}",
            f"{len(times) / wall:,.0f}",
        )
    out.print(table)
