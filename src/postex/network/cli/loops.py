"""Event loops for the replication commands: in the foreground until a signal, or in a
background thread beside ``postex serve``.

Imported only by the commands that run a loop, so ``postex --help`` does not load asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable

from postex.bootstrap import Container, replication
from postex.kernel.errors import ValidationError

log = logging.getLogger("postex.replication")


_SHUTDOWN_S = 5.0


def run_until_signal(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``run(stop)`` on a new event loop; SIGINT or SIGTERM sets ``stop``.

    As ``asyncio.run``, except that the tasks left at the end (a NATS client's own) get
    :data:`_SHUTDOWN_S` seconds to end once cancelled, not forever: a client cancelled in
    the middle of a refused TLS handshake once kept a command from ever exiting."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_until_signal(run))
    finally:
        try:
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.wait(left, timeout=_SHUTDOWN_S))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


async def run_together(*runs: Awaitable[None]) -> None:
    """Run ``runs`` side by side until all end; the first to fail cancels the others and
    waits for them before its error is raised, so no task is left to fail unawaited while
    the loop shuts down (the follower and the publisher share one NATS access: a refused
    password fails both)."""
    tasks = [asyncio.ensure_future(r) for r in runs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _until_signal(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await run(stop)


class BackgroundPublisher:
    """The site's publisher on an event loop of its own thread, beside ``postex serve``.

    Its own loop keeps the publisher's log reads off the HTTP server's loop. ``stop`` lets
    the current round finish (acknowledged seqs are persisted), so a restart resumes there.
    """

    def __init__(self, c: Container, follow: bool = False) -> None:
        self.publisher = replication(c).publisher()
        # Following other nodes' logs shares the thread and loop (docs/operations.md).
        self.follower = replication(c).follower(c.trusted_keys()) if follow else None
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self.error = ""  # why the publisher stopped by itself (NATS refused it), if it did
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, name="postex-publisher", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._run())
        finally:
            self._loop.close()

    async def _run(self) -> None:
        from postex.network.nats.jetstream import NatsAccessError

        self._stop = asyncio.Event()
        self._started.set()
        runs = [self.publisher.run(self._stop)]
        if self.follower is not None:
            runs.append(self.follower.run(self._stop))
        try:
            await run_together(*runs)
        except NatsAccessError as exc:  # the node keeps serving; replication waits for a fix
            self.error = exc.detail
            log.error("replication stopped: %s", exc.detail)
            self._stop.set()  # the follower uses the same NATS access: it stops too

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def stop(self, timeout: float = 15.0) -> bool:
        """Ask the publisher to stop and wait for it; False if it did not stop in time."""
        if self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        return not self._thread.is_alive()


def serve_publisher(c: Container, publish: bool | None) -> BackgroundPublisher | None:
    """The publisher ``postex serve`` runs: by default on a site or a hub with a NATS URL.
    A site also follows every other node whose key it trusts (fan-out, docs/operations.md);
    the hub publishes its own log (``HUB``: pre-advice taken at the hub) for the sites to
    follow, and leaves the sites' logs to ``postex hub consume``.

    ``publish`` True insists (and needs role site or hub and a NATS URL); False turns it
    off (run ``postex replicate`` separately instead); None decides from the settings.
    """
    s = c.settings
    able = s.role in ("site", "hub") and bool(s.nats_url)
    if publish is None:
        publish = able
    if not publish:
        return None
    if not able:
        raise ValidationError.single(
            "publish", "site_with_nats", s.role,
            "--publish needs role site or hub (POSTEX_ROLE) and a NATS URL (POSTEX_NATS_URL)",
        )  # fmt: skip
    return BackgroundPublisher(c, follow=s.role == "site")
