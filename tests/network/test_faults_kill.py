"""The site process killed with SIGKILL mid-batch, 20 times: nothing acknowledged is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from postex.bootstrap import replication
from postex.network.app.integrity import verify_store
from tests.factories import new_customer
from tests.network.conftest import Loops, pair, wait_until

pytestmark = [pytest.mark.nats, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_twenty_times_loses_no_acknowledged_event(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """After 20 SIGKILLs mid-traffic every acknowledged write is there, the chain verifies,
    projections equal a rebuild, and the hub converges to exactly the site's log."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url, checkpoint_every=40)
    customer = new_customer(site)
    loops.start(replication(hub).consumer(hub.trusted_keys()).run)
    rng = random.Random(6)
    acknowledged = 0
    hub_progress = []
    zygote = subprocess.Popen(
        [sys.executable, "-m", "tests.network.site_worker", str(site.settings.home),
         site.settings.db_url, nats_url, prefix, customer.record.id],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert zygote.stdin is not None and zygote.stdout is not None
    try:
        for _ in range(20):
            zygote.stdin.write("spawn\n")
            zygote.stdin.flush()
            pid, wanted, seen = 0, rng.randint(1, 4), 0
            while not pid or seen < wanted:
                word, value = zygote.stdout.readline().split()
                if word == "pid":
                    pid = int(value)
                else:
                    seen += 1
                    acknowledged = max(acknowledged, int(value))
            os.kill(pid, signal.SIGKILL)  # mid-batch: the next batch is being written
            hub_progress.append(hub.store.head("GBLALA")[0])
    finally:
        zygote.stdin.close()
        zygote.wait(10)
    head = site.store.head("GBLALA")[0]
    assert head >= acknowledged
    report = verify_store(site.store, site.trusted_keys(), "GBLALA")[0]
    assert report.ok and report.head_seq == head
    live = site.rebuilder.projection_digest()
    site.rebuilder.rebuild()
    assert site.rebuilder.projection_digest() == live
    loops.start(replication(site).publisher().run)
    wait_until(lambda: hub.store.head("GBLALA")[0] == head, 30, "hub to converge")
    assert hub_progress[-1] > 0  # replication made progress between kills
    assert verify_store(hub.store, hub.trusted_keys(), "GBLALA")[0].ok
    assert replication(hub).state.alarms() == []
