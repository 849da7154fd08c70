"""``postex bench serve``: public tracking as served, measured with wrk (a native load
generator: a Python client saturates before the server does).

In one run, on one seeded node (SQLite by default), each case is a fresh ``postex serve``:

- tracking with metrics and request logs on, and off (``metrics=false``,
  ``request_log=false``): the cost of observability (goal: ratio >= 0.9);
- a bare FastAPI ``async def`` endpoint served by the same uvicorn (uvloop, httptools, one
  process): tracking against it (goal: ratio >= 0.7, p99 < 50 ms);
- tracking with ``--workers 2`` against ``--workers 1`` (goal: >= 1.7x on two cores).

The server's logs go to a file, as they would to a journal. The cases run twice in
alternation and the better of each pair counts (the machine is shared).
"""

from __future__ import annotations

import os
import platform
import random
import re
import shutil
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


@dataclass(frozen=True)
class Result:
    name: str
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    value, unit = float(m[1]), m[2]
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(name: str, port: int, script: Path | None, path: str, conns: int, seconds: int) -> Result:
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", text, re.M)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", text, re.M)[1])  # type: ignore[index]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return Result(name, rate, p50, p99, int(bad[1]) if bad else 0)


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
    url: str, home: Path, port: int, *, workers: int = 1, observe: bool = True
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "POSTEX_PUBLIC_RATE": str(10**9), "POSTEX_PUBLIC_BURST": str(10**9),
        "POSTEX_WEBHOOK_WORKER_SECONDS": "0", "POSTEX_LOG_FORMAT": "json",
        "POSTEX_METRICS": str(observe).lower(), "POSTEX_REQUEST_LOG": str(observe).lower(),
    }  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (home / f"serve-{port}.log").open("ab")
    cmd = [sys.executable, "-m", "postex", "serve", "--db", url, "--home", str(home),
           "--port", str(port), "--workers", str(workers)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)  # noqa: S603
    _wait(port, proc, "/healthz")
    return proc


def serve_bare(port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", BARE_APP, "--port", str(port),
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


def bench_serve(items: int, seconds: int, conns: int, db: str | None, home: str | None) -> None:
    if shutil.which("wrk") is None:
        err.print("[red]wrk is not installed[/red] (apt-get install wrk)")
        raise typer.Exit(2)
    work = Path(home) if home else Path(tempfile.mkdtemp(prefix="postex-bench-serve-"))
    url = db or f"sqlite:///{work / 'bench.db'}"
    c = build(load_settings(db_url=url, home=str(work)), create=True)
    _, present = seed(c, items)
    c.close()
    pick = random.Random(5)
    paths = work / "paths.txt"
    ids = [_item_id(pick.randrange(present)) for _ in range(10_000)]
    paths.write_text("".join(f"/api/v1/tracking/{i}\n" for i in ids))
    script = work / "tracking.lua"
    script.write_text(LUA % paths)
    track = "/api/v1/tracking/x"  # replaced by the script's paths

    def tracking(name: str, **how: object) -> Result:
        port = free_port()
        proc = serve(url, work, port, **how)  # type: ignore[arg-type]
        try:
            wrk("warm-up", port, script, track, conns, 2)
            return wrk(name, port, script, track, conns, seconds)
        finally:
            stop(proc)

    def bare() -> Result:
        port = free_port()
        proc = serve_bare(port)
        try:
            wrk("warm-up", port, None, "/bare", conns, 2)
            return wrk("bare async def", port, None, "/bare", conns, seconds)
        finally:
            stop(proc)

    rounds: list[dict[str, Result]] = []
    for _ in range(2):
        rounds.append({
            "on": tracking("tracking, metrics+logs on"),
            "off": tracking("tracking, metrics+logs off", observe=False),
            "bare": bare(),
            "w2": tracking("tracking, --workers 2", workers=2),
        })  # fmt: skip
    best = {k: max((r[k] for r in rounds), key=lambda x: x.rate) for k in rounds[0]}
    table = Table(title=f"postex bench serve: {present:,} items, wrk {conns} connections, "
                        f"{seconds} s per case, best of 2")  # fmt: skip
    for col in ("case", "req/s", "p50 ms", "p99 ms", "non-2xx"):
        table.add_column(col, justify="left" if col == "case" else "right")
    for r in best.values():
        table.add_row(r.name, f"{r.rate:,.0f}", f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}",
                      str(r.errors))  # fmt: skip
    out.print(table)
    on, off, bare_r, w2 = best["on"], best["off"], best["bare"], best["w2"]
    out.print(f"metrics+logs on / off: {on.rate / off.rate:.2f} (goal >= 0.9)")
    out.print(f"tracking / bare async def: {on.rate / bare_r.rate:.2f} (goal >= 0.7); "
              f"p99 {on.p99_ms:.1f} ms (goal < 50 ms)")  # fmt: skip
    out.print(f"--workers 2 / --workers 1: {w2.rate / on.rate:.2f} (goal >= 1.7)")
    out.print(f"machine: {platform.node()} {os.cpu_count()} cores; {' '.join(platform.uname())}")
