"""``postex bench network``: pre-advice visible at every site, and fan-out against one-way.

A hub and N sites, **in one process** (each node its own SQLite file, its own JetStream
publisher, the sites their followers, the hub its consumer, all on one event loop thread
as tests/network does), on a real NATS server under a subject prefix of this run's own.
One process means one GIL for four nodes and the load generator on a 2-core machine: the
figures are a floor for a deployment where every node is its own process.

1. Latency: pre-advice is written at a steady ``--rate`` network-wide, spread round-robin
   over the hub and the sites (one transaction per node every 50 ms tick). After each
   commit the origin's head seq is noted; a poller (every 20 ms) reads each site's copy
   head of that origin. The follower stores a verified copy and applies its projections
   in one transaction, so "copy head >= seq" is "the items are in that site's ``items``
   table". The time from commit to the last other site having it is one sample per item.
2. Throughput: the same backlog of pre-advice at every site, replicated on two fresh
   networks: one-way (sites publish, the hub consumes: today's replication) and fan-out
   (the same plus every site following every other node). Events/s = distinct events /
   seconds until every copy holds them; the ratio is fan-out / one-way, same run. In one
   process the fan-out ratio cannot exceed about 1/N (every event is checked and applied
   N times on one core), so copies per second and their ratio are reported beside it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from postex.accounts.app.customers import create_customer
from postex.bootstrap import Container, build, replication
from postex.config import load_settings
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import PreAdvice, parse_pre_advice
from postex.kernel.errors import StoreUnreachableError, ValidationError
from postex.kernel.network import load_network
from postex.network.cli.ransomware import Loops

HUB = "HUB"
TICK = 0.05
POLL = 0.02

ADVICE: dict[str, Any] = {
    "service": "tracked", "reference": "BENCH-NET",
    "sender": {"name": "Bench Sender", "address_lines": ["1 High Street"], "city": "London",
               "postcode": "SW1A 1AA", "country": "GB"},
    "addressee": {"name": "Bench Addressee", "address_lines": ["2200 Juniper Boulevard"],
                  "city": "New York", "region": "NY", "postcode": "10001", "country": "US"},
    "weight_g": 850, "dimensions_mm": {"length": 300, "width": 200, "height": 100},
    "contents": {"category": "sale_of_goods", "lines": [{
        "description": "Cotton T-shirt", "quantity": 2, "net_weight_g": 400,
        "value_minor": 2500, "currency": "GBP", "hs_code": "610910", "origin_country": "GB"}]},
}  # fmt: skip


@dataclass
class NetworkResult:
    sites: int
    rate_asked: float
    seconds: float
    items_written: int
    rate_achieved: float
    samples: int
    p50_s: float
    p99_s: float
    max_s: float
    unseen: int  # items some other site never showed within the drain time
    items_tables_agree: bool  # every site's items table holds every other node's items
    backlog_per_site: int
    # The process's CPU (every thread: writers, publishers, followers, the hub, the poller)
    # over the latency phase: per item written, and per second of that phase. Less noisy
    # than the latency on a shared machine: the nodes keep up while CPU/s stays under 1.
    cpu_ms_per_item: float = 0.0
    cpu_s_per_s: float = 0.0
    oneway_events_per_s: list[float] = field(default_factory=list)
    fanout_events_per_s: list[float] = field(default_factory=list)
    oneway_median: float = 0.0
    fanout_median: float = 0.0
    ratio: float = 0.0
    # Fan-out stores each site's event N times (the hub and N-1 sites), one-way once: the
    # copies verified and applied per second, and their ratio, show the per-copy cost.
    fanout_copies_per_s: float = 0.0
    copy_ratio: float = 0.0
    # Failover confirmed at the hub -> first moved item bagged at the survivor (fan-out).
    failover_s: float = 0.0
    failover_confirm_s: float = 0.0
    failover_items: int = 0
    failover: str = ""
    load_average: list[float] = field(default_factory=list)
    machine: str = ""
    mode: str = "in-process: hub and sites in one Python process, one event loop thread"
    throughput_mode: str = "in-process, as the latency"


def check_nats(url: str) -> None:
    """Refuse early (exit 2) when nothing listens at ``url``."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 4222
    try:
        with socket.create_connection((host, port), timeout=3):
            return
    except OSError:
        raise StoreUnreachableError(
            f"no NATS server answers at {host}:{port}; start one with JetStream "
            "(nats-server -js) or give --nats URL"
        ) from None


class Net:
    """A hub and ``sites`` sites on scratch SQLite files, one network KEK, keys exchanged."""

    def __init__(self, work: Path, url: str, sites: int) -> None:
        self.prefix = "bnet" + secrets.token_hex(4)
        codes = [s.code for s in load_network().sites][:sites]
        if len(codes) < sites:
            raise ValidationError.single("sites", "range", sites, f"1…{len(codes)}")
        self.codes = codes
        self.nodes: dict[str, Container] = {}
        self.settings: dict[str, dict[str, Any]] = {}
        for code, role in [(HUB, "hub"), *((c, "site") for c in codes)]:
            home = work / code.lower()
            if self.nodes:  # one network KEK, copied before the node's first start
                (home / "keys").mkdir(parents=True, mode=0o700)
                kek = Path(self.nodes[HUB].settings.keys_dir) / "kek.json"
                shutil.copy(kek, home / "keys" / "kek.json")
            self.settings[code] = {"home": str(home), "db_url": f"sqlite:///{home / 'node.db'}",
                                   "site": code, "role": role, "nats_url": url,
                                   "nats_prefix": self.prefix}  # fmt: skip
            self.nodes[code] = build(load_settings(**self.settings[code]), create=True)
        import base64

        for name, node in self.nodes.items():
            for other, c in self.nodes.items():
                if other != name:
                    public = base64.b64encode(c.signer.public).decode()
                    (Path(node.settings.keys_dir) / f"{other}.pub").write_text(public + "\n")
        self.customers = {
            code: create_customer(c.ctx, "Bench Exports Ltd").record.id
            for code, c in self.nodes.items()
        }
        self.loops = Loops()

    def start(self, follow: bool) -> None:
        hub = self.nodes[HUB]
        self.loops.start(replication(hub).consumer(hub.trusted_keys()).run)
        for code, node in self.nodes.items():
            rep = replication(node)
            self.loops.start(rep.publisher().run)
            if follow and code != HUB:
                self.loops.start(rep.follower(node.trusted_keys()).run)

    def head(self, at: str, origin: str) -> int:
        return int(self.nodes[at].store.head(origin)[0])

    def heads(self, at: str) -> dict[str, int]:
        """Every copy head at node ``at`` in one query (the poller's, to cost the nodes little)."""
        from sqlalchemy import text

        with self.nodes[at].engine.connect() as conn:
            return {str(r[0]): int(r[1]) for r in conn.execute(text("SELECT site, seq FROM heads"))}

    def items_from(self, at: str, origin: str) -> int:
        from sqlalchemy import text

        with self.nodes[at].engine.connect() as conn:
            sql = text("SELECT count(*) FROM items WHERE origin_site = :o")
            return int(conn.execute(sql, {"o": origin}).scalar_one())

    def close(self) -> None:
        self.loops.close()
        try:
            asyncio.run(replication(self.nodes[HUB]).delete_stream())
        finally:
            for c in self.nodes.values():
                c.close()


class Watcher:
    """Polls every site's copy heads and times each written batch until every other site
    holds it (a background thread, every ``POLL`` seconds)."""

    def __init__(self, net: Net) -> None:
        self.net = net
        self.pending: list[tuple[str, int, float, int, list[str]]] = []  # origin, seq, t, n
        self.lock = threading.Lock()
        self.samples: list[float] = []
        self.done = threading.Event()
        self.drain_until = float("inf")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def written(self, origin: str, seq: int, t: float, n: int) -> None:
        others = [s for s in self.net.codes if s != origin]
        if others:
            with self.lock:
                self.pending.append((origin, seq, t, n, others))

    def finish(self, drain: float) -> int:
        """Wait up to ``drain`` seconds for the rest; return the items never seen."""
        self.drain_until = time.perf_counter() + drain
        self.done.set()
        self.thread.join()
        with self.lock:
            return sum(p[3] for p in self.pending)

    def _sweep(self) -> None:
        with self.lock:
            todo = list(self.pending)
        now = time.perf_counter()
        heads: dict[str, dict[str, int]] = {}  # one query per site and sweep
        still = []
        for origin, seq, t, n, waiting in todo:
            left = []
            for site in waiting:
                if site not in heads:
                    heads[site] = self.net.heads(site)
                if heads[site].get(origin, 0) < seq:
                    left.append(site)
            if left:
                still.append((origin, seq, t, n, left))
            else:
                self.samples.extend([now - t] * n)
        with self.lock:
            self.pending[:] = still + self.pending[len(todo) :]

    def _run(self) -> None:
        while True:
            finished = self.done.is_set()
            self._sweep()
            with self.lock:
                empty = not self.pending
            if finished and (empty or time.perf_counter() > self.drain_until):
                return
            time.sleep(POLL)


def _latency(net: Net, advice: PreAdvice, rate: float, seconds: float, drain: float) -> tuple[
    list[float], dict[str, int], int, float
]:  # fmt: skip
    """Samples (s), items written per origin, items never seen everywhere, seconds spent
    writing. Each 50 ms tick writes what is due, shared round-robin over the nodes."""
    origins = [HUB, *net.codes]
    watcher = Watcher(net)
    written = dict.fromkeys(origins, 0)
    start = time.perf_counter()
    sent, turn = 0, 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(rate * min(elapsed + TICK, seconds)) - sent
        for i in range(len(origins)):
            origin = origins[(turn + i) % len(origins)]
            n = due // len(origins) + (1 if i < due % len(origins) else 0)
            if n <= 0:
                continue
            pre_advise(net.nodes[origin].ctx, net.customers[origin], [advice] * n)
            watcher.written(origin, net.head(origin, origin), time.perf_counter(), n)
            sent += n
            written[origin] += n
        turn += 1
        pause = start + (elapsed // TICK + 1) * TICK - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    writing = time.perf_counter() - start
    unseen = watcher.finish(drain)
    return watcher.samples, written, unseen, writing


def _converge(net: Net, follow: bool, timeout: float, processes: bool) -> float:
    """Start replication (in this process, or one process per node) and time until the hub
    (and, with ``follow``, every site) holds every site's log."""
    from postex.bench.network_procs import Processes

    targets = {code: net.head(code, code) for code in net.codes}
    holders = {code: [HUB] + ([s for s in net.codes if s != code] if follow else [])
               for code in net.codes}  # fmt: skip
    children = Processes(net.settings, follow) if processes else None  # built, waiting
    started = time.perf_counter()
    if children is None:
        net.start(follow)
    else:
        children.go()
    try:
        _wait_for(net, holders, targets, started, timeout)
        return time.perf_counter() - started
    finally:
        if children is not None:
            children.close()


def _wait_for(net: Net, holders: dict[str, list[str]], targets: dict[str, int], started: float,
              timeout: float) -> None:  # fmt: skip
    # Only the copies still short are read again (the parent's polling costs the nodes as
    # little CPU as it can, the same in both halves).
    short = [(h, origin) for origin, hs in holders.items() for h in hs]
    while short := [(h, o) for h, o in short if net.head(h, o) < targets[o]]:
        if time.perf_counter() - started > timeout:
            raise ValidationError.single("bench", "timeout", timeout, "replication to converge")
        time.sleep(0.01)


def _throughput(
    url: str, sites: int, backlog: int, follow: bool, advice: PreAdvice, processes: bool
) -> float:
    work = Path(tempfile.mkdtemp(prefix="postex-bench-net-"))
    net = Net(work, url, sites)
    try:
        for code in net.codes:
            for start in range(0, backlog, 500):
                n = min(500, backlog - start)
                pre_advise(net.nodes[code].ctx, net.customers[code], [advice] * n)
        events = sum(net.head(code, code) for code in net.codes)
        return events / _converge(net, follow, 600, processes)
    finally:
        net.close()
        shutil.rmtree(work, ignore_errors=True)


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_network(
    url: str,
    sites: int,
    rate: float,
    seconds: float,
    backlog: int,
    runs: int,
    processes: bool = False,
    failover_items: int = 200,
) -> NetworkResult:
    from postex.bench.common import machine
    from postex.bench.failover import bench_failover

    check_nats(url)
    advice = parse_pre_advice(ADVICE)
    work = Path(tempfile.mkdtemp(prefix="postex-bench-net-"))
    net = Net(work, url, sites)
    try:
        net.start(follow=True)
        time.sleep(1.0)  # publishers, followers and consumer connected
        cpu, wall = time.process_time(), time.perf_counter()
        samples, written, unseen, writing = _latency(net, advice, rate, seconds, drain=30.0)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        agree = all(net.items_from(at, origin) == n for origin, n in written.items()
                    for at in net.codes if at != origin)  # fmt: skip
    finally:
        net.close()
        shutil.rmtree(work, ignore_errors=True)
    sent = sum(written.values())
    result = NetworkResult(
        sites=sites, rate_asked=rate, seconds=seconds, items_written=sent,
        rate_achieved=sent / writing if writing else 0.0, samples=len(samples),
        p50_s=_quantile(samples, 0.5), p99_s=_quantile(samples, 0.99),
        max_s=max(samples, default=0.0), unseen=unseen, items_tables_agree=agree,
        backlog_per_site=backlog, cpu_ms_per_item=1000 * cpu / sent if sent else 0.0,
        cpu_s_per_s=cpu / wall if wall else 0.0,
    )  # fmt: skip
    for _ in range(runs):
        for follow, into in ((False, result.oneway_events_per_s),
                             (True, result.fanout_events_per_s)):  # fmt: skip
            into.append(_throughput(url, sites, backlog, follow, advice, processes))
    if runs:
        result.oneway_median = statistics.median(result.oneway_events_per_s)
        result.fanout_median = statistics.median(result.fanout_events_per_s)
        result.ratio = result.fanout_median / result.oneway_median
        result.fanout_copies_per_s = result.fanout_median * sites
        result.copy_ratio = result.ratio * sites
    moved = bench_failover(Net, url, advice, failover_items)
    result.failover_s, result.failover_confirm_s = moved.seconds, moved.confirm_s
    result.failover_items = moved.items_moved
    result.failover = (f"{moved.seconds:.2f} s (confirmation at the hub {moved.confirm_s:.2f} s,"
                       f" {moved.items_moved} items moved)")  # fmt: skip
    if processes:
        result.throughput_mode = "one OS process per node (spawned children)"
    result.load_average = [round(x, 2) for x in os.getloadavg()]
    result.machine = machine()
    return result


def result_json(result: NetworkResult) -> dict[str, Any]:
    return asdict(result)


def print_result(r: NetworkResult) -> None:
    """The results as a table on stdout; the load average and each run on stderr."""
    from rich.table import Table

    from postex.cli.common import err, out

    table = Table(title=f"postex bench network — {r.machine}")
    for col in ("measure", "result", "goal"):
        table.add_column(col)
    table.add_row("mode", r.mode, "")
    table.add_row("throughput runs", r.throughput_mode, "")
    table.add_row(f"pre-advice rate ({r.sites} sites + hub)",
                  f"{r.rate_achieved:,.0f}/s achieved of {r.rate_asked:,.0f}/s asked, "
                  f"{r.items_written:,} items", "")  # fmt: skip
    table.add_row("visible at every other site: p50", f"{r.p50_s:.3f} s", "")
    table.add_row("visible at every other site: p99", f"{r.p99_s:.3f} s (max {r.max_s:.3f} s, "
                  f"{r.unseen} never seen)", "< 2 s")  # fmt: skip
    table.add_row("items tables hold every other node's items", str(r.items_tables_agree), "")
    cpu = f"{r.cpu_ms_per_item:.2f} ms per item; {r.cpu_s_per_s:.2f} s per s"
    table.add_row("CPU of the process (all nodes) while writing and draining", cpu, "")
    table.add_row(f"one-way site -> hub, {r.backlog_per_site:,}/site",
                  f"{r.oneway_median:,.0f} events/s", "")  # fmt: skip
    table.add_row("fan-out: hub and every site", f"{r.fanout_median:,.0f} events/s", "")
    table.add_row("ratio fan-out / one-way", f"{r.ratio:.2f}", ">= 0.5")
    table.add_row("fan-out copies verified and applied", f"{r.fanout_copies_per_s:,.0f}/s "
                  f"(x{r.sites} per event; per-copy ratio {r.copy_ratio:.2f})", "")  # fmt: skip
    table.add_row("failover confirmed at the hub to first moved item bagged at the survivor",
                  r.failover, "< 60 s")  # fmt: skip
    out.print(table)
    err.print(f"load average {r.load_average}; runs one-way {r.oneway_events_per_s}, "
              f"fan-out {r.fanout_events_per_s}")  # fmt: skip
