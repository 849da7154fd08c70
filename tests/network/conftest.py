"""Fixtures for replication: a site node, a hub node, unique NATS subjects, background loops."""

from __future__ import annotations

import asyncio
import base64
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from postex.bootstrap import Container, replication
from postex.network.app.wire import Subjects
from postex.network.cli.ransomware import Loops
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
    from postex.network.nats.jetstream import delete_stream

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


@pytest.fixture
def loops() -> Iterator[Loops]:
    running = Loops()
    yield running
    if running.loop.is_running():
        running.close()


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


class OwnNats:
    """A nats-server of this test's own (JetStream, file store) that can be stopped."""

    def __init__(self, store_dir: Path) -> None:
        import socket

        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        need_service("nats-server", binary if Path(binary).exists() else "", "PATH")
        self.binary = binary
        self.store_dir = store_dir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: Any = None
        self.start()

    def start(self) -> None:
        import socket
        import subprocess

        self.proc = subprocess.Popen(
            [self.binary, "-js", "-p", str(self.port), "-sd", str(self.store_dir), "-a",
             "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def up() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(up, 10, "nats-server to listen")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[OwnNats]:
    server = OwnNats(tmp_path / "nats")
    yield server
    server.stop()


@pytest.fixture
def pg_hub_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own for the hub, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    from postex.eventlog.sql.engine import normalise_url
    from tests.conftest import PG_URL

    need_service("PostgreSQL", PG_URL, "POSTEX_TEST_DATABASE_URL")
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"postex_hub_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield normalise_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
