"""``postex bench serve``: public tracking as served, measured with wrk (a native load
generator: a Python client saturates before the server does).

In one run, on one seeded node (SQLite by default), each case is a fresh ``postex serve``:

- tracking with metrics and request logs on, and off (``metrics=false``,
  ``request_log=false``): the cost of observability (goal: ratio >= 0.9);
- a bare FastAPI ``async def`` endpoint served by the same uvicorn (uvloop, httptools, one
  process): tracking against it (goal: ratio >= 0.7, p99 < 50 ms);
- tracking with the answer cache off (``answer_cache=false``): every request reads the store;
- tracking with ``--workers 2`` against ``--workers 1`` (goal: >= 1.7x on two cores), 16
  connections, every request for one tracking number without a Lua script (wrk's cheapest
  request: on two cores, what wrk takes the two workers cannot have).

Before each timed run wrk walks every tracking path in order (the warm-up fills the answer
caches, as a day of lookups would; with several workers in passes with new connections,
and again while a short probe sees under 99 % hits); the timed run picks paths at random,
and the hit rate it saw is read from ``/metrics``. The CPU seconds of wrk and of the server
processes are measured too: on two cores, wrk's share is what ``--workers 2`` cannot have.
The server's logs go to a file, as they would to a journal. The cases run ``rounds`` times
in alternation; medians and each round's ratios are reported (the machine is shared).
"""

from __future__ import annotations

import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import typer
from rich.table import Table

from postex.bench.tracking import _item_id, free_port, seed
from postex.bootstrap import build
from postex.cli.common import err, out
from postex.config import load_settings

BARE_APP = "postex.bench.bare:app"
LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
math.randomseed(7)
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""
WALK = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Result:
    name: str
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    wrk_cpu: float = float("nan")  # cores wrk used (CPU seconds / seconds)
    server_cpu: float = float("nan")  # cores the server's processes used
    hit_rate: float = float("nan")  # answer-cache hits / lookups in the timed run


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its child processes (uvicorn's workers)."""
    total = 0.0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        pids += [int(p) for p in task.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def lookups(port: int) -> tuple[float, float]:
    """(hits, misses) of the answer cache so far, from /metrics (0, 0 when it is off)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    except httpx.HTTPError:
        return 0.0, 0.0
    found = dict(re.findall(r'postex_answer_cache_lookups_total\{outcome="(\w+)"\} (\S+)', text))
    return float(found.get("hit", 0)), float(found.get("miss", 0))


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    value, unit = float(m[1]), m[2]
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


PIN: dict[str, list[str]] = {}  # with --pin: "wrk", "server", "workers" -> a taskset prefix


def pin_cores() -> None:
    """``--pin``: wrk on the last core, a one-process server on the first, ``--workers 2``
    on all of them (it needs every core; wrk takes its share of the last one). Other
    processes still run anywhere: pinning keeps wrk and a one-process server from
    trading places and caches between cores, not other load off them."""
    if shutil.which("taskset") is None:
        err.print("[red]taskset is not installed[/red] (util-linux)")
        raise typer.Exit(2)
    last = (os.cpu_count() or 1) - 1
    PIN.update(wrk=["taskset", "-c", str(last)], server=["taskset", "-c", "0"],
               workers=["taskset", "-c", f"0-{last}"])  # fmt: skip


def wrk(
    name: str, port: int, script: Path | None, path: str, conns: int, seconds: int,
    server: int | None = None,
) -> Result:  # fmt: skip
    """One wrk run (one thread: the lightest load generator wrk can be) against ``port``;
    with ``server`` (a pid) the CPU both used is measured too."""
    cmd = [*PIN.get("wrk", []), "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    before = os.times()
    cpu0, wall0 = cpu_seconds(server) if server else 0.0, time.monotonic()
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    wall = time.monotonic() - wall0
    after = os.times()
    wrk_cpu = (after.children_user + after.children_system
               - before.children_user - before.children_system) / wall  # fmt: skip
    server_cpu = (cpu_seconds(server) - cpu0) / wall if server else float("nan")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", text, re.M)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", text, re.M)[1])  # type: ignore[index]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return Result(name, rate, p50, p99, int(bad[1]) if bad else 0, wrk_cpu, server_cpu)


def _wait(port: int, proc: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    err.print("[red]the server did not start[/red]")
    raise typer.Exit(2)


def serve(
    url: str, home: Path, port: int, *, workers: int = 1, observe: bool = True,
    cache: bool = True,
) -> subprocess.Popen[bytes]:  # fmt: skip
    env = {
        **os.environ,
        "POSTEX_PUBLIC_RATE": str(10**9), "POSTEX_PUBLIC_BURST": str(10**9),
        "POSTEX_WEBHOOK_WORKER_SECONDS": "0", "POSTEX_LOG_FORMAT": "json",
        "POSTEX_METRICS": str(observe).lower(), "POSTEX_REQUEST_LOG": str(observe).lower(),
        "POSTEX_ANSWER_CACHE": str(cache).lower(),
    }  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (home / f"serve-{port}.log").open("ab")
    pin = PIN.get("workers" if workers > 1 else "server", [])
    cmd = [*pin, sys.executable, "-m", "postex", "serve", "--db", url, "--home", str(home),
           "--port", str(port), "--workers", str(workers)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)  # noqa: S603
    _wait(port, proc, "/healthz")
    return proc


def serve_bare(port: int) -> subprocess.Popen[bytes]:
    cmd = [*PIN.get("server", []), sys.executable, "-m", "uvicorn", BARE_APP, "--port", str(port),
           "--log-level", "warning", "--no-access-log"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    _wait(port, proc, "/bare")
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def warm_up(
    port: int, n: int, workers: int, warm: int, walk: Path, script: Path, track: str
) -> None:
    """Walk every path until the caches are full. Each worker has its own cache and a
    keep-alive connection stays with the worker that accepted it (the kernel picks
    which): with several workers the walk is split into passes with new connections,
    and it is walked again while a 2 s random probe sees under 99 % hits (not when
    metrics are off: no counts to read)."""
    conns_ = max(n, 4 * workers)
    passes = 1 if workers == 1 else 3 * workers
    for _ in range(passes):
        wrk("warm-up", port, walk, track, conns_, max(2, warm * workers // passes))
    for _ in range(3):
        hits0, misses0 = lookups(port)
        wrk("probe", port, script, track, n, 2)
        hits, misses = lookups(port)
        looked = hits + misses - hits0 - misses0
        if not looked or (hits - hits0) / looked >= 0.99:
            return
        wrk("warm-up", port, walk, track, conns_, max(2, warm // 2))


CASES = ("on", "off", "nocache", "bare", "w1", "w2")


def bench_serve(
    items: int, seconds: int, conns: int, db: str | None, home: str | None, rounds: int = 3,
    warm: int = 12, wconns: int = 16, pin: bool = False,
) -> None:  # fmt: skip
    """``wconns``: connections for ``--workers 2`` against 1 (each worker listens on a
    socket of its own and the kernel spreads connections by a hash: with 16, all but one
    on one worker is a chance in 2,000). ``pin``: see :func:`pin_cores`."""
    if shutil.which("wrk") is None:
        err.print("[red]wrk is not installed[/red] (apt-get install wrk)")
        raise typer.Exit(2)
    PIN.clear()
    if pin:
        pin_cores()
    load0 = os.getloadavg()
    work = Path(home) if home else Path(tempfile.mkdtemp(prefix="postex-bench-serve-"))
    url = db or f"sqlite:///{work / 'bench.db'}"
    c = build(load_settings(db_url=url, home=str(work)), create=True)
    _, present = seed(c, items)
    c.close()
    pick = random.Random(5)
    paths = work / "paths.txt"
    ids = [_item_id(pick.randrange(present)) for _ in range(10_000)]
    paths.write_text("".join(f"/api/v1/tracking/{i}\n" for i in ids))
    script, walk = work / "tracking.lua", work / "walk.lua"
    script.write_text(LUA % paths)
    walk.write_text(WALK % paths)
    track = "/api/v1/tracking/x"  # replaced by the script's paths

    def tracking(
        name: str, n: int = conns, workers: int = 1, one: bool = False, **how: object
    ) -> Result:
        """``one``: every request of the timed run asks for the same tracking number, with
        no Lua script (wrk's cheapest request: the least of the two cores for wrk)."""
        port = free_port()
        proc = serve(url, work, port, workers=workers, **how)  # type: ignore[arg-type]
        try:
            warm_up(port, n, workers, warm, walk, script, track)
            hits0, misses0 = lookups(port)
            lua, path = (None, f"/api/v1/tracking/{ids[0]}") if one else (script, track)
            r = wrk(name, port, lua, path, n, seconds, server=proc.pid)
            hits, misses = lookups(port)
            looked = hits + misses - hits0 - misses0
            rate = (hits - hits0) / looked if looked else float("nan")
            return Result(**{**r.__dict__, "hit_rate": rate})
        finally:
            stop(proc)

    def bare() -> Result:
        port = free_port()
        proc = serve_bare(port)
        try:
            wrk("warm-up", port, None, "/bare", conns, 2)
            return wrk("bare async def", port, None, "/bare", conns, seconds, server=proc.pid)
        finally:
            stop(proc)

    runs: list[dict[str, Result]] = []
    for _ in range(rounds):
        runs.append({
            "on": tracking("tracking, metrics+logs on"),
            "off": tracking("tracking, metrics+logs off", observe=False),
            "nocache": tracking("tracking, answer cache off", cache=False),
            "bare": bare(),
            "w1": tracking(f"one number, {wconns} connections", n=wconns, one=True),
            "w2": tracking(f"one number, --workers 2, {wconns} connections", n=wconns,
                           workers=2, one=True),
        })  # fmt: skip
    report(runs, present, conns, seconds, load0)


def cpu_us(r: Result) -> float:
    """The server's CPU microseconds per request answered."""
    return r.server_cpu / r.rate * 1e6 if r.rate else float("nan")


def wrk_us(r: Result) -> float:
    """wrk's CPU microseconds per request it made."""
    return r.wrk_cpu / r.rate * 1e6 if r.rate else float("nan")


def report(
    runs: list[dict[str, Result]], present: int, conns: int, seconds: int,
    load0: tuple[float, float, float] | None = None,
) -> None:  # fmt: skip
    pinned = f"; pinned: wrk {PIN['wrk'][-1]}, server {PIN['server'][-1]}" if PIN else ""
    title = (f"postex bench serve: {present:,} items, wrk 1 thread {conns} connections, "
             f"{seconds} s per case, {len(runs)} rounds{pinned}")  # fmt: skip
    table = Table(title=title)
    for col in ("round", "case", "req/s", "p50 ms", "p99 ms", "non-2xx", "hits",
                "server cores", "server µs/req", "wrk cores"):  # fmt: skip
        table.add_column(col, justify="left" if col == "case" else "right")
    for n, run in enumerate(runs, 1):
        for r in run.values():
            table.add_row(str(n), r.name, f"{r.rate:,.0f}", f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}",
                          str(r.errors),
                          "n/a" if r.hit_rate != r.hit_rate else f"{r.hit_rate:.0%}",
                          f"{r.server_cpu:.2f}",
                          f"{cpu_us(r):.0f}", f"{r.wrk_cpu:.2f}")  # fmt: skip
    out.print(table)

    def ratios(a: str, b: str) -> str:
        each = [run[a].rate / run[b].rate for run in runs]
        cpu = [cpu_us(run[b]) / cpu_us(run[a]) for run in runs]
        return (f"{statistics.median(each):.2f} (rounds: {', '.join(f'{x:.2f}' for x in each)});"
                f" by server CPU per request {statistics.median(cpu):.2f}")  # fmt: skip

    med = {k: statistics.median(run[k].rate for run in runs) for k in CASES}
    p99 = statistics.median(run["on"].p99_ms for run in runs)
    out.print("medians req/s: " + ", ".join(f"{k} {v:,.0f}" for k, v in med.items()))
    out.print(f"metrics+logs on / off: {ratios('on', 'off')} (goal >= 0.9)")
    out.print(f"tracking / bare async def: {ratios('on', 'bare')} (goal >= 0.7); "
              f"p99 median {p99:.1f} ms (goal < 50 ms)")  # fmt: skip
    out.print(f"tracking, answer cache off / bare async def: {ratios('nocache', 'bare')}")
    each = [run["w2"].rate / run["w1"].rate for run in runs]
    out.print(f"--workers 2 / --workers 1: {statistics.median(each):.2f} (rounds: "
              f"{', '.join(f'{x:.2f}' for x in each)}) (goal >= 1.7)")  # fmt: skip
    load = [run["w2"].wrk_cpu for run in runs]
    out.print(f"wrk's CPU in the --workers 2 case: {statistics.median(load):.2f} cores")
    hits = {k: [run[k].hit_rate for run in runs] for k in ("on", "w1", "w2")}
    out.print("answer-cache hits in the timed runs: " + "; ".join(
        f"{k} {', '.join(f'{x:.1%}' for x in v)}" for k, v in hits.items()))  # fmt: skip
    # On one machine wrk and two workers share the cores: with s1 and s2 the server's CPU
    # µs per request with one and two workers (two workers, each with half the connections,
    # may take fewer per request) and w wrk's, one worker is bound by one core (1/s1), two
    # by the cores less wrk's share (2/(s2 + w)); so --workers 2 / 1 <= 2·s1 / (s2 + w).
    s1 = statistics.median(cpu_us(run["w1"]) for run in runs)
    s2 = statistics.median(cpu_us(run["w2"]) for run in runs)
    w = statistics.median(wrk_us(run["w2"]) for run in runs)
    out.print(f"CPU per request: server {s1:.0f} µs (--workers 1), {s2:.0f} µs (--workers 2), "
              f"wrk {w:.0f} µs; on these cores --workers 2 / 1 can be at most "
              f"2·s1/(s2+w) = {2 * s1 / (s2 + w):.2f}")  # fmt: skip
    now = " ".join(f"{x:.1f}" for x in os.getloadavg())
    before = f"{' '.join(f'{x:.1f}' for x in load0)} at the start, " if load0 else ""
    out.print(f"machine: {platform.node()} {os.cpu_count()} cores; {' '.join(platform.uname())}; "
              f"load average {before}{now} at the end")  # fmt: skip
