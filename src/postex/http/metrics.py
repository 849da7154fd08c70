"""Prometheus metrics: what the node does (requests, appends, refusals) and, at scrape time,
what its database says (replication lag, open alarms, holds, the webhook queue).

No label carries a personal datum or an id: routes are templates (``/api/v1/items/{item_id}``),
sites are IMPC office codes, event types are catalogue names. With several server processes
(``postex serve --workers N``) every process writes its counters to files in
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up (prometheus-client's multiprocess
mode); the database gauges are read once, by the process that answers the scrape.

``/metrics`` answers a request bearing ``Authorization: Bearer <metrics_token>`` when that
setting is set, and otherwise only a loopback client that came through no proxy; anyone
else gets 404, as if there were no such page.
"""

from __future__ import annotations

import functools
import hmac
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from starlette.concurrency import run_in_threadpool

from postex import __version__
from postex.eventlog.chain import format_time

if TYPE_CHECKING:
    from postex.bootstrap import Container

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: half the output, nothing Prometheus needs
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"  # a path no route answers: never the path itself (unbounded labels)

HTTP_REQUESTS = Counter(
    "postex_http_requests", "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)  # fmt: skip
HTTP_DURATION = Histogram(
    "postex_http_request_duration_seconds", "Time to answer an HTTP request, by route template.",
    ["method", "route"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
RATE_LIMITED = Counter(
    "postex_rate_limited", "Requests refused with 429 (rate limits), by route template.", ["route"]
)
IDEMPOTENT_REPLAYS = Counter(
    "postex_idempotent_replays",
    "Requests answered with the stored answer of an earlier one (Idempotency-Key).",
    ["route"],
)
EVENTS_APPENDED = Counter(
    "postex_events_appended", "Events appended to the log and committed, by site and type.",
    ["site", "type"],
)  # fmt: skip
APPEND_SECONDS = Histogram(
    "postex_append_seconds",
    "Time from opening a write transaction to the moment it is ready to commit "
    "(hashing, inserts, projections).",
    buckets=LATENCY_BUCKETS,
)
COMMIT_SECONDS = Histogram(
    "postex_commit_seconds", "Time the database takes to commit a write transaction.",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
DB_IN_USE = Gauge(
    "postex_db_connections_in_use", "Database connections checked out of the pools now.",
    multiprocess_mode="livesum",
)  # fmt: skip


class StoreMetrics:
    """The store's write observer (``SqlStore.observer``): counts committed events."""

    def committed(
        self, site: str, types: Sequence[str], append_seconds: float, commit_seconds: float
    ) -> None:
        APPEND_SECONDS.observe(append_seconds)
        COMMIT_SECONDS.observe(commit_seconds)
        counts: dict[str, int] = {}
        for t in types:
            counts[t] = counts.get(t, 0) + 1
        for t, n in counts.items():
            EVENTS_APPENDED.labels(site, t).inc(n)


def watch_pool(engine: Any) -> None:
    """Count the engine's checked-out connections in ``postex_db_connections_in_use``."""
    if getattr(engine, "_postex_watched", False):
        return
    engine._postex_watched = True
    event.listen(engine, "checkout", lambda *_a: DB_IN_USE.inc())
    event.listen(engine, "checkin", lambda *_a: DB_IN_USE.dec())


def _age(now: datetime, stamp: str | None) -> float | None:
    if not stamp:
        return None
    then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return max(0.0, (now - then).total_seconds())


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time, with a few short queries."""

    def __init__(self, container: Container) -> None:
        self.c = container

    def describe(self) -> list[Metric]:
        return []  # collected only on scrape, never at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("postex_db_up", "1 when the last scrape could read the database.")
        try:
            metrics = list(self._read())
        except Exception:  # the store is unavailable: say so, do not fail the scrape
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _rows(self, conn: Any, sql: str, *args: Any) -> list[Any]:
        if not args:
            return list(conn.exec_driver_sql(sql).all())
        ph = "%s" if conn.dialect.name == "postgresql" else "?"
        return list(conn.exec_driver_sql(sql.replace("?", ph), args).all())

    def _read(self) -> Iterable[Metric]:
        s = self.c.settings
        now = datetime.now(UTC)
        info = GaugeMetricFamily("postex_node_info", "This node: version, role and site.",
                                 labels=["version", "role", "site"])  # fmt: skip
        info.add_metric([__version__, s.role, s.site], 1)
        yield info
        pool = GaugeMetricFamily("postex_db_pool_size", "Connections the pool keeps open.")
        size = getattr(self.c.engine.pool, "size", None)
        pool.add_metric([], float(size()) if callable(size) else 0.0)
        yield pool
        head = GaugeMetricFamily("postex_log_head_seq", "Newest seq of each site's log here.",
                                 labels=["site"])  # fmt: skip
        lag_ev = GaugeMetricFamily(
            "postex_replication_lag_events",
            "Events not yet replicated: on a site, its own log not acknowledged by the hub; "
            "on a hub, what each site reported minus the hub's copy.",
            labels=["site"],
        )
        lag_s = GaugeMetricFamily(
            "postex_replication_lag_seconds",
            "How long the oldest unreplicated event has waited (site) or how old the hub's "
            "newest copy is while the site reports more (hub); 0 when caught up.",
            labels=["site"],
        )
        cp_age = GaugeMetricFamily(
            "postex_checkpoint_age_seconds",
            "Seconds since the newest signed checkpoint of each site's log.", labels=["site"]
        )  # fmt: skip
        alarms = GaugeMetricFamily(
            "postex_integrity_alarms_open", "Integrity alarms raised and not cleared, by site.",
            labels=["site"],
        )  # fmt: skip
        with self.c.engine.connect() as conn:
            heads = {r[0]: (int(r[1]), r[2]) for r in self._rows(
                conn, "SELECT site, seq, recorded_at FROM heads")}  # fmt: skip
            acked = {r[0]: int(r[1]) for r in self._rows(
                conn, "SELECT site, acked_seq FROM replication_cursors")}  # fmt: skip
            reports = {r[0]: int(r[1]) for r in self._rows(
                conn, "SELECT site, head_seq FROM replication_reports")}  # fmt: skip
            sites = sorted(set(heads) | set(reports) | {s.site})
            for site in sites:
                seq, newest_at = heads.get(site, (0, None))
                head.add_metric([site], seq)
                lag = self._lag(conn, s.role, s.site, site, seq, newest_at, acked, reports, now)
                if lag is not None:
                    lag_ev.add_metric([site], lag[0])
                    lag_s.add_metric([site], lag[1])
            for site, signed_at in self._rows(
                conn, "SELECT site, MAX(signed_at) FROM checkpoints GROUP BY site"
            ):
                age = _age(now, signed_at)
                if age is not None:
                    cp_age.add_metric([site], age)
            open_by_site = dict(self._rows(
                conn, "SELECT site, COUNT(*) FROM integrity_alarms"
                " WHERE cleared_at IS NULL GROUP BY site"))  # fmt: skip
            for site in sorted(set(open_by_site) | set(sites)):
                alarms.add_metric([site], int(open_by_site.get(site, 0)))
            yield from (head, lag_ev, lag_s, cp_age, alarms)
            yield from self._verifications(conn, now)
            yield from self._holds(conn, now)
            yield from self._webhooks(conn, now)

    def _lag(
        self, conn: Any, role: str, own: str, site: str, seq: int, newest_at: str | None,
        acked: dict[str, int], reports: dict[str, int], now: datetime,
    ) -> tuple[float, float] | None:  # fmt: skip
        if role == "site" and site == own:
            done = acked.get(site, 0)
            behind = max(0, seq - done)
            if not behind:
                return 0.0, 0.0
            waiting = self._rows(
                conn, "SELECT recorded_at FROM events WHERE site = ? AND seq = ?", site, done + 1
            )
            return float(behind), _age(now, waiting[0][0] if waiting else None) or 0.0
        if role == "hub" and site in reports:
            behind = max(0, reports[site] - seq)
            return float(behind), (_age(now, newest_at) or 0.0) if behind else 0.0
        return None

    def _verifications(self, conn: Any, now: datetime) -> Iterable[Metric]:
        runs = CounterMetricFamily(
            "postex_verify_runs", "Verifications of the whole log recorded here, by outcome.",
            labels=["outcome"],
        )  # fmt: skip
        counts = dict(self._rows(conn, "SELECT ok, COUNT(*) FROM verifications GROUP BY ok"))
        runs.add_metric(["ok"], sum(int(n) for k, n in counts.items() if k))
        runs.add_metric(["failed"], sum(int(n) for k, n in counts.items() if not k))
        yield runs
        last = self._rows(conn, "SELECT ok, at FROM verifications ORDER BY id DESC LIMIT 1")
        ok = GaugeMetricFamily(
            "postex_verify_last_ok", "1 if the newest recorded verification passed, 0 if not."
        )
        age = GaugeMetricFamily(
            "postex_verify_last_age_seconds", "Seconds since the newest recorded verification."
        )
        if last:
            ok.add_metric([], 1 if last[0][0] else 0)
            age.add_metric([], _age(now, last[0][1]) or 0.0)
        yield ok
        yield age

    def _holds(self, conn: Any, now: datetime) -> Iterable[Metric]:
        active = self._rows(
            conn, "SELECT activated_at FROM holds WHERE activated_at IS NOT NULL"
            " AND released_at IS NULL",
        )  # fmt: skip
        holds = GaugeMetricFamily("postex_holds_active", "Export holds in force now.")
        holds.add_metric([], len(active))
        yield holds
        oldest = GaugeMetricFamily(
            "postex_hold_oldest_active_seconds",
            "How long the oldest hold in force has been in force (0 with none).",
        )
        ages = [a for a in (_age(now, r[0]) for r in active) if a is not None]
        oldest.add_metric([], max(ages, default=0.0))
        yield oldest
        held = GaugeMetricFamily("postex_held_items", "Items held by a hold now, by site.",
                                 labels=["site"])  # fmt: skip
        for site, n in self._rows(
            conn, "SELECT site, COUNT(*) FROM hold_items WHERE released_at IS NULL GROUP BY site"
        ):
            held.add_metric([site], int(n))
        yield held

    def _webhooks(self, conn: Any, now: datetime) -> Iterable[Metric]:
        queue = GaugeMetricFamily(
            "postex_webhook_deliveries",
            "Webhook deliveries by state: pending (the queue) and failed (given up).",
            labels=["state"],
        )
        by_state = dict(self._rows(
            conn, "SELECT state, COUNT(*) FROM webhook_deliveries"
            " WHERE state IN ('pending', 'failed') GROUP BY state"))  # fmt: skip
        for state in ("pending", "failed"):
            queue.add_metric([state], int(by_state.get(state, 0)))
        yield queue
        since = format_time(datetime.fromtimestamp(now.timestamp() - 3600, UTC))
        attempts = GaugeMetricFamily(
            "postex_webhook_attempts_last_hour",
            "Webhook delivery attempts in the last hour, by outcome (ok: a 2xx answer).",
            labels=["outcome"],
        )
        rows = self._rows(conn, "SELECT status FROM webhook_attempts WHERE at >= ?", since)
        good = sum(1 for (status,) in rows if status is not None and 200 <= int(status) < 300)
        attempts.add_metric(["ok"], good)
        attempts.add_metric(["failed"], len(rows) - good)
        yield attempts


class WorkersCollector(Collector):
    """Process metrics of every live server process, added up (multiprocess mode): the
    processes are the ones that wrote metric files (``<kind>_<pid>.db``) in the directory."""

    SUMMED = ("process_cpu_seconds_total", "process_resident_memory_bytes",
              "process_virtual_memory_bytes", "process_open_fds")  # fmt: skip

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def describe(self) -> list[Metric]:
        return []

    def pids(self) -> list[int]:
        found: set[int] = set()
        for name in os.listdir(self.directory):
            tail = name.rsplit("_", 1)[-1].removesuffix(".db")
            if tail.isdigit() and os.path.exists(f"/proc/{tail}"):
                found.add(int(tail))
        return sorted(found)

    def collect(self) -> Iterator[Metric]:
        from prometheus_client import ProcessCollector

        pids = self.pids()
        totals = dict.fromkeys(self.SUMMED, 0.0)
        for pid in pids:
            collector = ProcessCollector(pid=functools.partial(int, pid), registry=None)
            for family in collector.collect():
                for sample in family.samples:
                    if sample.name in totals:
                        totals[sample.name] += sample.value
        workers = GaugeMetricFamily("postex_server_processes", "Live server processes.")
        workers.add_metric([], len(pids))
        yield workers
        for name, total in totals.items():
            kind = CounterMetricFamily if name.endswith("_total") else GaugeMetricFamily
            base = name.removesuffix("_total")
            family = kind(base, f"{name} of every server process, added up.")
            family.add_metric([], total)
            yield family


def registry_for(container: Container) -> CollectorRegistry:
    """What ``/metrics`` shows: this process's metrics (or every worker's, added up), the
    process's own resource use, and the database gauges."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(WorkersCollector(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    else:
        from prometheus_client import REGISTRY

        registry = CollectorRegistry()
        for collector in list(REGISTRY._collector_to_names):  # process, platform, gc, ours
            registry.register(collector)
    registry.register(DatabaseCollector(container))
    return registry


def allowed(request: Request, token: str) -> bool:
    """Whether this request may read ``/metrics`` (see the module's docstring)."""
    if token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    host = request.client.host if request.client else ""
    direct = "x-forwarded-for" not in request.headers and "forwarded" not in request.headers
    return direct and host in ("127.0.0.1", "::1", "localhost", "testclient")


router = APIRouter(tags=["infra"], include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """``async``: the request counts waiting in this process (``postex.http.observe``) are
    moved on the event loop's thread, the one that adds to them; the database gauges are
    then read in the thread pool."""
    state = request.app.state
    c = state.container
    if not c.settings.metrics or not allowed(request, c.settings.metrics_token):
        return Response(status_code=404)
    flush = getattr(state, "flush_request_metrics", None)
    if flush is not None:
        flush()
    registry = getattr(state, "metrics_registry", None)
    if registry is None:
        registry = state.metrics_registry = registry_for(c)
    text = await run_in_threadpool(generate_latest, registry)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
