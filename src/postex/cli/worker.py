"""``postex worker``: the node's background chores (webhook delivery first) as a process."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from postex.cli.common import (
    EXIT_USAGE,
    DbOpt,
    HomeOpt,
    MetricsPortOpt,
    claimed,
    err,
    handle_errors,
    start_logs,
    start_metrics,
)


@handle_errors
def worker(
    db: DbOpt = None,
    home: HomeOpt = None,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds to wait when nothing is due.")
    ] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
    metrics_port: MetricsPortOpt = None,
) -> None:
    """Deliver due webhooks with retries and backoff until stopped (Ctrl+C).

    Each round also purges a batch of expired idempotency answers, puts scheduled holds
    whose start has come into effect (their items become held) and, once a minute, deletes
    expired console sessions and stale sign-in lockout counters. On a hub there is nothing
    to do (the sites run these chores): it says so and exits.

    With --metrics-port it serves Prometheus /metrics: the webhook queue and attempts, the
    events its chores append, its process (docs/monitoring.md).

    Example: postex worker --db postgresql://postgres@127.0.0.1:5432/postex --metrics-port 9101
    """
    from postex import logs
    from postex.bootstrap import chores
    from postex.http.metrics_server import own_metrics

    own_metrics()
    c = claimed(db, home)
    start_logs(c.settings)
    log = logs.get("postex.worker")
    if c.settings.role == "hub":
        # The sites deliver their customers' webhooks, purge their idempotency answers and
        # activate their holds, each in its own log: a hub writes no site events.
        c.close()
        err.print("a hub has no worker chores (the sites run their own); nothing to do")
        return
    todo = chores(c)
    totals = dict.fromkeys((chore.done for chore in todo), 0)
    failed = 0
    stop_metrics = start_metrics(c.settings, c, metrics_port)
    try:
        while True:
            done = 0
            for chore in todo:
                try:
                    n = chore.run()
                except Exception as exc:  # as in `serve`: logged (no message), next round
                    from postex.http.problems import where

                    log.error("chore failed", chore=chore.name, error=where(exc))
                    failed += 1
                    continue
                totals[chore.done] += n
                done += n
                if n:
                    log.info("chore", chore=chore.name, done=n)
            if once:
                break
            if not done:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        stop_metrics()
        c.close()
    err.print(", ".join(f"{n} {what}" for what, n in totals.items()))
    if failed:
        err.print(f"{failed} chore round(s) failed: see the log")
        raise typer.Exit(EXIT_USAGE)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
