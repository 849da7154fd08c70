"""``postex worker``: the webhook delivery worker (and housekeeping) as its own process."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from postex.app.holds import activation_chore
from postex.app.idempotency import expiry_chore
from postex.app.webhooks import deliver_due
from postex.entrypoints.cli.common import DbOpt, HomeOpt, container, err, handle_errors


@handle_errors
def worker(
    db: DbOpt = None,
    home: HomeOpt = None,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds to wait when nothing is due.")
    ] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
) -> None:
    """Deliver due webhooks with retries and backoff until stopped (Ctrl+C).

    Each round also purges a batch of expired idempotency answers and puts scheduled holds
    whose start has come into effect (their items become held).

    Example: postex worker --db postgresql://postgres@127.0.0.1:5432/postex
    """
    c = container(db, home)
    sender = c.webhook_sender_factory(c.settings.webhook_allow_private)
    purge = expiry_chore(c.ctx, c.settings.idempotency_retention_hours)
    activate = activation_chore(c.ctx)
    total = purged = 0
    try:
        while True:
            attempted = deliver_due(c.ctx, sender)
            total += attempted
            expired = purge()
            purged += expired
            attempted += expired + activate()
            if once:
                break
            if not attempted:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        c.close()
    err.print(f"{total} delivery attempts, {purged} expired idempotency answers purged")


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
