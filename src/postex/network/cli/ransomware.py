"""The ransomware drill: destroy a site's store under traffic and bring it back.

A hub and a site run in this process with separate stores and a real NATS JetStream
between them; traffic flows through the ordinary use cases; the site's database file is
overwritten with random bytes; the site is restored from the hub, verified, and takes
traffic again. RTO = seconds from the start of the restore to the first accepted
pre-advice; RPO = events the site had written but the hub did not hold when destroyed.

``postex drill ransomware`` and ``postex bench replication`` run it; this module is imported
only when they do, so it imports the whole node at the top.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from postex.accounts.app.customers import create_customer
from postex.bootstrap import Container, build, replication
from postex.cli.common import err, progress_bar
from postex.config import load_settings
from postex.kernel.errors import ValidationError
from postex.network.app.drill import DrillResult, Traffic, seed_ticks
from postex.network.app.integrity import verify_store
from postex.network.app.status import verify_copies
from postex.network.cli.backup import open_target, run_restore

SITE = "GBLALA"


class Loops:
    """Coroutines ``fn(stop)`` on an event loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runs: list[tuple[asyncio.Event, Future[None]]] = []

    def start(self, fn: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> asyncio.Event:
        stop = asyncio.run_coroutine_threadsafe(_event(), self.loop).result()
        self.runs.append((stop, asyncio.run_coroutine_threadsafe(fn(stop), self.loop)))
        return stop

    def stop_one(self, stop: asyncio.Event) -> None:
        for ev, fut in self.runs:
            if ev is stop:
                self.loop.call_soon_threadsafe(ev.set)
                fut.result(timeout=30)

    def close(self) -> None:
        for ev, fut in self.runs:
            self.loop.call_soon_threadsafe(ev.set)
            fut.result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.loop.is_running():
            self.loop.close()


async def _event() -> asyncio.Event:
    return asyncio.Event()


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ValidationError.single("drill", "timeout", what, f"timed out waiting: {what}")
        time.sleep(0.05)


def _trust(node: Container, other: Container, name: str) -> None:
    (node.settings.keys_dir / f"{name}.pub").write_text(
        base64.b64encode(other.signer.public).decode() + "\n"
    )


def _ransomware(db_file: Path) -> None:
    """Overwrite the database and its WAL with random bytes, as an encryptor would."""
    for path in (db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")):
        if path.exists():
            size = max(path.stat().st_size, 4096)
            path.write_bytes(os.urandom(size))


def _site_node(work: Path, nats: str, prefix: str) -> Container:
    settings = load_settings(
        home=str(work / "site"), db_url=f"sqlite:///{work / 'site.db'}", site=SITE, role="site",
        nats_url=nats, nats_prefix=prefix, checkpoint_every=500, checkpoint_seconds=1,
    )  # fmt: skip
    return build(settings, create=True)


def run_drill(work: Path, nats: str, hub_db: str | None, seconds: float, offline: int,
              seed: int) -> DrillResult:  # fmt: skip
    prefix = "drill" + secrets.token_hex(4)
    site = _site_node(work, nats, prefix)
    hub = build(
        load_settings(home=str(work / "hub"), db_url=hub_db or f"sqlite:///{work / 'hub.db'}",
                      site="HUB", role="hub", nats_url=nats, nats_prefix=prefix),
        create=True,
    )  # fmt: skip
    _trust(hub, site, SITE)
    _trust(site, hub, "HUB")
    hub_rep = replication(hub)
    loops = Loops()
    try:
        if seed:
            with progress_bar("seeding site log", seed) as update:
                seed_ticks(site.ctx, seed, progress=update)
            with progress_bar("seeding hub copy", seed) as update:
                _copy_to_hub(site, hub, hub_rep.hub(hub.trusted_keys()), update)
        loops.start(hub_rep.consumer(hub.trusted_keys()).run)
        publisher_stop = loops.start(replication(site).publisher().run)
        customer = create_customer(site.ctx, "Drill Exports Ltd")
        traffic = Traffic(site.ctx, customer.record.id)
        traffic.start()
        err.print(f"traffic flowing for {seconds:.0f} s …")
        time.sleep(seconds)
        traffic.stop()
        # Caught up means the copy reaches the head AND its newest checkpoint is countersigned:
        # the hub writes the countersignature just after storing the events it covers.
        _wait(
            lambda: hub.store.head(SITE) == site.store.head(SITE) and _witnessed(hub),
            120, "hub to catch up and countersign",
        )  # fmt: skip
        loops.stop_one(publisher_stop)
        rng = random.Random(1)  # noqa: S311 - test data, not secrets
        target = site.store.head(SITE)[0] + offline
        while site.store.head(SITE)[0] < target:  # link down, site working: these are the RPO
            traffic.batch = 1
            traffic.one_batch(rng)
        time.sleep(0.5)  # whatever was in flight reaches the hub before the site dies
        head_before = site.store.head(SITE)[0]
        replicated = hub.store.head(SITE)[0]
        items_before = traffic.items
        site.close()
        _ransomware(work / "site.db")
        err.print(f"[red]site store overwritten with random bytes[/red] (head was {head_before})")
        started = time.perf_counter()
        restored = open_target(f"sqlite:///{work / 'site.db'}", str(work / "site"), SITE, False)
        restored.close()
        site = _site_node(work, nats, prefix)
        source = replication(site).nats_source()  # the hub's copy, over NATS
        try:
            report = run_restore(site, SITE, source)
        finally:
            source.close()
        after = Traffic(site.ctx, customer.record.id, batch=1)
        after.one_batch(random.Random(2))  # noqa: S311 - test data, not secrets
        rto = time.perf_counter() - started
        verified = all(
            r.ok and r.authenticated
            for r in verify_store(site.store, site.trusted_keys(), SITE, authority=site.authority)
        )
        loops.start(replication(site).publisher().run)
        after.batch = 10
        after.one_batch(random.Random(3))  # noqa: S311 - test data, not secrets
        _wait(lambda: hub.store.head(SITE) == site.store.head(SITE), 60, "hub to converge again")
        hub_ok = verify_copies(hub.store, hub_rep.state, hub.trusted_keys(), hub_rep.now()).ok
        return DrillResult(
            head_before, replicated, report.events, report.seconds, rto, verified, hub_ok,
            items_before, after.items,
        )  # fmt: skip
    finally:
        loops.close()
        asyncio.run(hub_rep.delete_stream())
        site.close()
        hub.close()


def _witnessed(hub: Container) -> bool:
    """Whether the hub's newest checkpoint of the site carries the hub's countersignature."""
    cps = hub.store.checkpoints(SITE)
    return not cps or cps[-1].seq in {w.seq for w in replication(hub).state.witnesses(SITE)}


def _copy_to_hub(
    site: Container, hub: Container, hub_service: Any, update: Callable[[int], None]
) -> None:
    batch: list[Any] = []
    done = 0
    for ev in site.store.read_events(SITE, batch=10_000):
        batch.append(ev)
        if len(batch) >= 10_000:
            hub_service.receive_events(SITE, batch)
            done += len(batch)
            batch = []
            update(done)
    if batch:
        hub_service.receive_events(SITE, batch)
    for cp in site.store.checkpoints(SITE):
        hub_service.receive_checkpoint(cp)
    replication(site).state.set_acked(SITE, site.store.head(SITE)[0], replication(site).now())
