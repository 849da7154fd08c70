"""Fixtures for replication: a site node, a hub node, unique NATS subjects, background loops."""

from __future__ import annotations

import asyncio
import base64
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from postex.app.replication import Subjects
from postex.bootstrap import Container, replication
from tests.conftest import NATS_URL, make_node, need_service


@pytest.fixture
def nats_url() -> str:
    need_service("NATS", NATS_URL, "POSTEX_TEST_NATS_URL")
    return NATS_URL


@pytest.fixture
def prefix(nats_url: str) -> Iterator[str]:
    """A subject prefix (and so a stream) of this test's own on the shared server."""
    name = "pxt" + secrets.token_hex(4)
    yield name
    asyncio.run(_delete(nats_url, Subjects(name)))


async def _delete(url: str, subjects: Subjects) -> None:
    from postex.adapters.nats.jetstream import delete_stream

    try:
        await delete_stream(url, subjects)
    except Exception:  # the server of a stop/start test may be gone already
        return


def trust(node: Container, other: Container, name: str) -> None:
    """Make ``node`` trust ``other``'s signing key (a ``<name>.pub`` file)."""
    public = base64.b64encode(other.signer.public).decode()
    (node.settings.keys_dir / f"{name}.pub").write_text(public + "\n")


def pair(tmp_path: Path, nats_url: str, prefix: str, hub_url: str, site: str = "GBLALA",
         **site_settings: Any) -> tuple[Container, Container]:  # fmt: skip
    site_node = make_node(
        tmp_path / f"site-{site}", f"sqlite:///{tmp_path / f'site-{site}.db'}", site=site,
        role="site", nats_url=nats_url, nats_prefix=prefix, **site_settings,
    )  # fmt: skip
    hub = make_node(
        tmp_path / "hub", hub_url, site="HUB", role="hub", nats_url=nats_url, nats_prefix=prefix
    )
    trust(hub, site_node, site)
    trust(site_node, hub, "HUB")
    return site_node, hub


@pytest.fixture
def sqlite_hub_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


class Loops:
    """Runs coroutines ``fn(stop)`` on an event loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.stop_event = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.futures: list[Any] = []

    def start(self, fn: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        self.futures.append(asyncio.run_coroutine_threadsafe(fn(self.stop_event), self.loop))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        for f in self.futures:
            f.result(timeout=15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def loops() -> Iterator[Loops]:
    running = Loops()
    yield running
    if running.loop.is_running():
        running.stop()


def wait_until(check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start_replication(loops: Loops, site: Container, hub: Container) -> tuple[Any, Any]:
    pub = replication(site).publisher()
    consumer = replication(hub).consumer(hub.trusted_keys())
    loops.start(pub.run)
    loops.start(consumer.run)
    return pub, consumer


def copy_db(src: Path, dst: Path) -> None:
    shutil.copy(src, dst)
