"""``postex bench replication``: site log -> JetStream -> hub store; restore; the drill's RTO.

Real path: a site store (SQLite file) seeded in large batches, the JetStream publisher and
the hub consumer (chain checks, storing, witnessing) on a real NATS server, the hub on
SQLite or ``--hub-db``. Baseline in the same run: one event per message, each
acknowledgement awaited before the next publish.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rich.table import Table

from postex.bootstrap import Container, build, replication
from postex.cli.common import out, progress_bar
from postex.config import load_settings
from postex.kernel.errors import ValidationError
from postex.network.app.drill import seed_ticks
from postex.network.app.restore import restore_site
from postex.network.cli.ransomware import Loops, _trust, run_drill

SITE = "GBLALA"


def _nodes(work: Path, nats: str, hub_db: str | None) -> tuple[Container, Container]:
    prefix = "bench" + secrets.token_hex(4)
    site = build(
        load_settings(home=str(work / "site"), db_url=f"sqlite:///{work / 'site.db'}", site=SITE,
                      role="site", nats_url=nats, nats_prefix=prefix, checkpoint_every=10_000),
        create=True,
    )  # fmt: skip
    hub = build(
        load_settings(home=str(work / "hub"), db_url=hub_db or f"sqlite:///{work / 'hub.db'}",
                      site="HUB", role="hub", nats_url=nats, nats_prefix=prefix),
        create=True,
    )  # fmt: skip
    _trust(hub, site, SITE)
    _trust(site, hub, "HUB")
    return site, hub


def _replicate(site: Container, hub: Container, baseline: bool) -> float:
    """Seconds until the hub holds the site's whole log."""
    pub = replication(site).publisher()
    if baseline:
        pub.max_events, pub.window = 1, 1
    loops = Loops()
    target = site.store.head(SITE)[0]
    started = time.perf_counter()
    loops.start(replication(hub).consumer(hub.trusted_keys()).run)
    loops.start(pub.run)
    while hub.store.head(SITE)[0] < target:
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    loops.close()
    asyncio.run(replication(hub).delete_stream())
    return seconds


def _restore(work: Path, site: Container, hub: Container, run: int) -> float:
    target = build(
        load_settings(home=str(work / "site"), db_url=f"sqlite:///{work / f'restored{run}.db'}",
                      site=SITE, role="site"),
        create=True,
    )  # fmt: skip
    rep = replication(target)
    loops = Loops()  # the hub serves its copy over NATS, as in a real restore
    loops.start(replication(hub).consumer(hub.trusted_keys()).run)
    source = replication(site).nats_source()
    started = time.perf_counter()
    restore_site(
        target.store, target.admin, rep.state, SITE, source, target.trusted_keys(), rep.now
    )
    seconds = time.perf_counter() - started
    source.close()
    loops.close()
    asyncio.run(replication(hub).delete_stream())
    target.close()
    return seconds


def bench_replication(
    nats: str, hub_db: str | None, events: int, baseline_events: int, runs: int, drill_events: int
) -> None:
    """Print replication and restore events/s (medians of ``runs``) and the drill's RTO."""
    url = nats or load_settings().nats_url
    if not url:
        raise ValidationError.single("nats", "required", "", "give --nats URL")
    rows: list[tuple[str, str, str]] = []
    for label, n, baseline in (("baseline: 1 event/msg, await each ack", baseline_events, True),
                               ("pipelined, up to 500 events/msg", events, False)):  # fmt: skip
        rates, restores = [], []
        for run in range(runs):
            work = Path(tempfile.mkdtemp(prefix="postex-bench-"))
            site, hub = _nodes(work, url, hub_db)
            with progress_bar(f"seeding {n} events", n) as update:
                seed_ticks(site.ctx, n, progress=update)
            rates.append(n / _replicate(site, hub, baseline))
            if not baseline:
                restores.append(n / _restore(work, site, hub, run))
            site.close()
            hub.close()
            shutil.rmtree(work, ignore_errors=True)
        rows.append((f"replicate {n} ({label})", f"{statistics.median(rates):,.0f} events/s",
                     " ".join(f"{r:,.0f}" for r in rates)))  # fmt: skip
        if restores:
            median = f"{statistics.median(restores):,.0f} events/s"
            each = " ".join(f"{r:,.0f}" for r in restores)
            rows.append((f"restore {n} from the hub copy", median, each))
    if drill_events:
        work = Path(tempfile.mkdtemp(prefix="postex-bench-drill-"))
        result = run_drill(work, url, hub_db, 3, 0, drill_events)
        shutil.rmtree(work, ignore_errors=True)
        size = f"{result.site_head_at_destruction:,}"
        detail = f"restore {result.restore_seconds:.1f} s, RPO {result.rpo_events}"
        rows.append((f"drill RTO, site of {size} events", f"{result.rto_seconds:.1f} s", detail))
    table = Table(title="postex bench replication (medians)")
    for col in ("measure", "median", "runs"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    out.print(table)
