"""``postex worker``: the webhook delivery worker (and housekeeping) as its own process."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from postex.cli.common import DbOpt, HomeOpt, claimed, err, handle_errors


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
    whose start has come into effect (their items become held). On a hub there is nothing
    to do (the sites run these chores): it says so and exits.

    Example: postex worker --db postgresql://postgres@127.0.0.1:5432/postex
    """
    from postex.incidents.app.holds import activation_chore
    from postex.items.app.idempotency import expiry_chore
    from postex.tracking.app.webhooks import deliver_due

    c = claimed(db, home)
    if c.settings.role == "hub":
        # The sites deliver their customers' webhooks, purge their idempotency answers and
        # activate their holds, each in its own log: a hub writes no site events.
        c.close()
        err.print("a hub has no worker chores (the sites run their own); nothing to do")
        return
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
