"""Site processes for the SIGKILL test: take pre-advice batches and publish, until killed.

Usage: python -m tests.network.site_worker HOME DB_URL NATS_URL PREFIX CUSTOMER_ID

The process imports Postex once and then, for each ``spawn`` line on stdin, forks a fresh
site process (printing ``pid <n>``) so that twenty kills do not cost twenty slow starts.
Each site process prints ``committed <head seq>`` after each committed batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
import threading

from postex.bootstrap import build, replication
from postex.config import load_settings
from postex.network.app.drill import Traffic


def site(home: str, db_url: str, nats_url: str, prefix: str, customer_id: str) -> None:
    c = build(
        load_settings(
            home=home, db_url=db_url, site="GBLALA", role="site", nats_url=nats_url,
            nats_prefix=prefix, checkpoint_every=40,
        )
    )  # fmt: skip
    pub = replication(c).publisher()
    stop = asyncio.Event()
    threading.Thread(target=lambda: asyncio.run(pub.run(stop)), daemon=True).start()
    traffic = Traffic(c.ctx, customer_id, batch=3)
    rng = random.Random()
    while True:
        traffic.one_batch(rng)
        print(f"committed {c.store.head('GBLALA')[0]}", flush=True)


def main() -> None:
    for line in sys.stdin:
        if line.strip() != "spawn":
            continue
        pid = os.fork()
        if pid == 0:
            site(*sys.argv[1:6])
        print(f"pid {pid}", flush=True)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass


if __name__ == "__main__":
    main()
