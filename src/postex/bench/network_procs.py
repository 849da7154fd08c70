"""``postex bench network --processes``: the throughput runs with one OS process per node.

Each node's replication (the hub's consumer and publisher; a site's publisher and, for
fan-out, its follower) runs in a process of its own, started with ``spawn`` from the
node's settings, as ``hub consume`` and ``serve`` would run them; the parent only seeds
the backlog beforehand and reads the copies' heads. Every process builds its node and
then waits; the parent starts the clock and lets them all go at once (:meth:`Processes.go`),
so no node replicates before the timing starts, however long the others take to start.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable, Coroutine, Mapping
from multiprocessing.synchronize import Event
from typing import Any

from postex.kernel.errors import ConfigurationError


def node_process(
    overrides: Mapping[str, Any], follow: bool, ready: Event, go: Event, stop: Event
) -> None:
    """A child: build the node, say it is ready, wait for ``go``, then run its replication
    loops until ``stop`` is set."""
    from postex.bootstrap import build, replication
    from postex.cli.common import tune_gc
    from postex.config import load_settings
    from postex.network.cli.ransomware import Loops

    tune_gc()  # as in every ``postex`` process (a spawned child does not run postex.cli.main)
    node = build(load_settings(**overrides))
    loops = Loops()
    rep = replication(node)
    runs: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []
    if overrides["role"] == "hub":
        runs.append(rep.consumer(node.trusted_keys()).run)
    runs.append(rep.publisher().run)
    if follow and overrides["role"] != "hub":
        runs.append(rep.follower(node.trusted_keys()).run)
    ready.set()
    go.wait()
    if not stop.is_set():
        for run in runs:
            loops.start(run)
        stop.wait()
    loops.close()
    node.close()


class Processes:
    """One child process per node, built and waiting once this returns; :meth:`go` starts
    their replication; :meth:`close` stops them (and only them)."""

    def __init__(self, settings: Mapping[str, Mapping[str, Any]], follow: bool) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self.started = ctx.Event()
        self.children = []
        readies = []
        for overrides in settings.values():
            ready = ctx.Event()
            child = ctx.Process(target=node_process, args=(dict(overrides), follow, ready,
                                                           self.started, self.stop),
                                daemon=True)  # fmt: skip
            child.start()
            self.children.append(child)
            readies.append(ready)
        deadline = time.monotonic() + 120
        for ready, child in zip(readies, self.children, strict=True):
            while not ready.wait(0.2):
                if not child.is_alive() or time.monotonic() > deadline:
                    self.close()
                    raise ConfigurationError("a node process of the benchmark did not start")

    def go(self) -> None:
        """Let every node start replicating (all of them are built and waiting)."""
        self.started.set()

    def close(self) -> None:
        self.stop.set()
        self.started.set()
        for child in self.children:
            child.join(30)
            if child.is_alive():
                child.terminate()
                child.join(5)
