"""`postex serve` on a site with a NATS URL publishes its log to the hub, and stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from postex.bootstrap import Container, replication
from tests.factories import new_customer, new_items
from tests.network.conftest import Loops, pair, wait_until

pytestmark = pytest.mark.nats


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(site: Container, *flags: str) -> tuple[subprocess.Popen[bytes], int]:
    s = site.settings
    port = _free_port()
    env = {
        **os.environ,
        "POSTEX_ROLE": "site",
        "POSTEX_NATS_URL": s.nats_url,
        "POSTEX_NATS_PREFIX": s.nats_prefix,
        "POSTEX_WEBHOOK_WORKER_SECONDS": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "postex", "serve", "--home", str(s.home), "--db", s.db_url,
         "--site", s.site, "--port", str(port), *flags],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return proc, port


def _up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def test_a_site_started_with_serve_replicates_to_the_hub(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    customer = new_customer(site).record.id
    new_items(site, customer, n=20)
    loops.start(replication(hub).consumer(hub.trusted_keys()).run)
    proc, port = _serve(site)
    try:
        wait_until(lambda: _up(port), 30, "serve to answer")
        wait_until(
            lambda: hub.store.head("GBLALA") == site.store.head("GBLALA"), 30, "the first copy"
        )
        # Written while serve runs (here by another process on the same store): published too.
        new_items(site, customer, n=15)
        wait_until(
            lambda: hub.store.head("GBLALA") == site.store.head("GBLALA"), 30, "the later events"
        )
        head = site.store.head("GBLALA")[0]
        wait_until(lambda: replication(site).state.acked("GBLALA") == head, 30, "acknowledgement")
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, output
    assert "publishing GBLALA to" in output
    assert "did not stop in time" not in output
    with hub.store.read() as uow:
        items = uow.conn.exec_driver_sql("SELECT count(*) FROM items").scalar()
    assert items == 35
    loops.close()
    site.close()
    hub.close()


def test_no_publish_leaves_publishing_to_postex_replicate(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str
) -> None:
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    proc, port = _serve(site, "--no-publish")
    try:
        wait_until(lambda: _up(port), 30, "serve to answer")
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, output
    assert "publishing" not in output
    site.close()
    hub.close()


def test_publish_on_a_node_that_is_not_a_site_is_refused(tmp_path: Path) -> None:
    """--publish on a single node names the field and rule and starts nothing."""
    from typer.testing import CliRunner

    from postex.cli.main import app

    home = tmp_path / "single"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    result = runner.invoke(app, ["serve", "--home", str(home), "--publish"])
    assert result.exit_code == 2
    assert "publish" in result.output and "site_with_nats" in result.output
