"""``postex bench console``: a scan through the console against the JSON acceptance route.

One node is seeded with pre-advised items and served by ``postex serve`` in its own
process. Four clerks (the default) sign in to the console over HTTP, each with its own
cookie jar, and scan at once: every scan is the console's whole round trip (the session
cookie looked up, the CSRF token checked, the acceptance written, the shift count kept and
the answer fragment rendered). The baseline is the same clerks posting one scan at a time
to ``POST /api/v1/sites/{site}/acceptances`` with their API tokens, on the same server, in
the same run. Rounds alternate (JSON, console, JSON, console, …) so that the machine's
noise falls on both sides; the ratio is of the medians of the rounds' scans per second.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import typer
from rich.table import Table

from postex.accounts.app.customers import create_customer
from postex.accounts.app.staff import create_user
from postex.bench.common import machine, scratch_node
from postex.bench.tracking import free_port, start_server
from postex.bootstrap import Container
from postex.cli.common import err, out, progress_bar
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import parse_pre_advice

SITE = "GBLALA"
WEIGHT_G = 120
PASSWORD = "bench console password"  # noqa: S105 - a throwaway node's clerks
ITEM = {
    "service": "tracked",
    "sender": {"name": "Bench Sender", "address_lines": ["1 Bench Street"], "city": "London",
               "postcode": "SW1A 1AA", "country": "GB"},
    "addressee": {"name": "Bench Addressee", "address_lines": ["2 Bench Avenue"],
                  "city": "New York", "region": "NY", "postcode": "10001", "country": "US"},
    "weight_g": WEIGHT_G,
    "contents": {"category": "documents", "lines": []},
}  # fmt: skip
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Round:
    path: str
    scans: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.scans / self.seconds if self.seconds else 0.0


@dataclass
class Clerk:
    username: str
    token: str
    web: httpx.Client
    api: httpx.Client
    csrf: str = ""


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    return found.group(1) if found else ""


def sign_in(clerk: Clerk) -> None:
    """The console's sign-in as a browser does it: the form (and its token, when it has
    one), the password, then the acceptance page for the session's CSRF token."""
    form = clerk.web.get("/console/sign-in")
    data = {"username": clerk.username, "password": PASSWORD}
    if token := _csrf(form.text):
        data["csrf_token"] = token
    r = clerk.web.post("/console/sign-in", data=data)
    if r.status_code != 303:
        raise RuntimeError(f"sign-in of {clerk.username} answered {r.status_code}")
    page = clerk.web.get(f"/console/sites/{SITE}/accept")
    clerk.csrf = _csrf(page.text)
    if page.status_code != 200 or not clerk.csrf:
        raise RuntimeError(f"the acceptance page answered {page.status_code} without a token")


def scan_console(clerk: Clerk, item_id: str) -> str | None:
    """One scan through the console; None when it was accepted, else what went wrong."""
    r = clerk.web.post(
        f"/console/sites/{SITE}/accept",
        data={"item_id": item_id, "weight_g": str(WEIGHT_G), "csrf_token": clerk.csrf},
        headers={"HX-Request": "true"},
    )
    if r.status_code == 200 and 'data-outcome="accepted"' in r.text:
        return None
    return f"console {r.status_code}"


def scan_json(clerk: Clerk, item_id: str) -> str | None:
    r = clerk.api.post(
        f"/api/v1/sites/{SITE}/acceptances",
        json={"item_id": item_id, "weight_g": WEIGHT_G},
        headers={"Authorization": f"Bearer {clerk.token}"},
    )
    return None if r.status_code == 201 else f"json {r.status_code}"


def run_round(
    path: str,
    clerks: list[Clerk],
    batches: list[list[str]],
    scan: Callable[[Clerk, str], str | None],
) -> Round:
    """Every clerk scans its own batch at once, one scan after another (a closed loop)."""
    result = Round(path)
    lock = threading.Lock()
    start = threading.Barrier(len(clerks) + 1)

    def work(clerk: Clerk, ids: list[str]) -> None:
        start.wait()
        for item_id in ids:
            t0 = time.perf_counter()
            failure = scan(clerk, item_id)
            took = time.perf_counter() - t0
            with lock:
                result.latencies.append(took)
                if failure:
                    result.failures.append(failure)

    pairs = zip(clerks, batches, strict=True)
    threads = [threading.Thread(target=work, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - t0
    result.scans = len(result.latencies) - len(result.failures)
    return result


def _seed(c: Container, clerks: int, items: int) -> tuple[list[tuple[str, str]], list[str]]:
    """Clerks with console passwords and API tokens, and ``items`` pre-advised items."""
    staff = []
    for k in range(clerks):
        made = create_user(c.ctx, f"bench.clerk{k}", "clerk", SITE, password=PASSWORD)
        staff.append((made.record.username, made.token))
    customer = create_customer(c.ctx, "Bench Exports Ltd").record.id
    advice = parse_pre_advice(ITEM)
    ids: list[str] = []
    with progress_bar("pre-advice (set-up)", items) as update:
        while len(ids) < items:
            n = min(1000, items - len(ids))
            ids += [x.id for x in pre_advise(c.ctx, customer, [advice] * n)]
            update(len(ids))
    return staff, ids


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def bench_console(clerks: int, scans: int, rounds: int, pg_url: str | None) -> None:
    """Print scans/s and latency of both paths, their ratio and the console's p99, on a
    scratch SQLite node and, given ``pg_url``, on a scratch PostgreSQL database too."""
    for kind in ("sqlite", "postgres") if pg_url else ("sqlite",):
        with scratch_node(kind, pg_url, SITE) as c:
            staff, ids = _seed(c, clerks, 2 * rounds * clerks * scans)
            err.print(f"{kind}: node ready with {len(ids):,} items; starting the server")
            results = _serve_and_scan(c.settings.db_url, c.settings.home, staff, ids, scans, rounds)
        _report(results, clerks, scans, kind)


def _serve_and_scan(
    url: str, home: Path, staff: list[tuple[str, str]], ids: list[str], scans: int, rounds: int
) -> list[Round]:
    port = free_port()
    proc = start_server(url, home, port)
    base = f"http://127.0.0.1:{port}"
    people = [
        Clerk(name, token, httpx.Client(base_url=base, timeout=30),
              httpx.Client(base_url=base, timeout=30))
        for name, token in staff
    ]  # fmt: skip
    per_round = len(people) * scans
    results: list[Round] = []
    try:
        for clerk in people:
            sign_in(clerk)
        with progress_bar("rounds (json, console, …)", 2 * rounds) as update:
            for k in range(2 * rounds):
                chunk = ids[k * per_round : (k + 1) * per_round]
                batches = [chunk[i * scans : (i + 1) * scans] for i in range(len(people))]
                if k % 2 == 0:
                    results.append(run_round("json", people, batches, scan_json))
                else:
                    results.append(run_round("console", people, batches, scan_console))
                update(k + 1)
    finally:
        for clerk in people:
            clerk.web.close()
            clerk.api.close()
        proc.terminate()
        proc.wait(30)
    failures = [f for r in results for f in r.failures]
    if failures:
        err.print(f"[red]{len(failures)} scans failed[/red], e.g. {sorted(set(failures))[:5]}")
        raise typer.Exit(2)
    return results


def _report(results: list[Round], clerks: int, scans: int, store: str) -> None:
    title = f"postex bench console — {store}, {clerks} clerks × {scans} scans a round"
    table = Table(title=title)
    for col in ("path", "rounds", "scans/s (median)", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(col, justify="right" if col != "path" else "left")
    summary: dict[str, tuple[float, float]] = {}
    for path in ("json", "console"):
        mine = [r for r in results if r.path == path]
        lat = [x for r in mine for x in r.latencies]
        rate = statistics.median(r.rate for r in mine)
        summary[path] = (rate, _pct(lat, 0.99))
        table.add_row(path, str(len(mine)), f"{rate:,.1f}", f"{_pct(lat, 0.5):.1f}",
                      f"{_pct(lat, 0.95):.1f}", f"{_pct(lat, 0.99):.1f}")  # fmt: skip
    out.print(table)
    ratio = summary["console"][0] / summary["json"][0]
    out.print(f"ratio console / JSON: {ratio:.2f} (goal >= 0.7)")
    out.print(f"p99 of a console scan: {summary['console'][1]:.1f} ms (goal < 150 ms)")
    out.print(f"machine: {machine()}")
