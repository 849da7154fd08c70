"""/metrics of `postex worker`, `postex replicate` and `postex hub consume` (--metrics-port):
each process answers for itself, with the database gauges it owns, to the same callers as
`serve`'s /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from postex.bench.tracking import free_port
from postex.bootstrap import Container
from postex.http.metrics_server import permitted, serve_metrics
from tests.conftest import NATS_URL, make_node, need_service
from tests.factories import new_customer, new_items

Samples = dict[str, list[tuple[dict[str, str], float]]]


def families(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_the_metrics_server_answers_the_same_callers_as_serve(node: Container) -> None:
    port = free_port()
    stop = serve_metrics(node, port)
    try:
        url = f"http://127.0.0.1:{port}"
        found = families(httpx.get(f"{url}/metrics").text)
        for name in ("postex_db_up", "postex_webhook_deliveries", "postex_verify_runs_total",
                     "postex_log_head_seq", "process_cpu_seconds_total"):  # fmt: skip
            assert name in found, name
        assert (
            httpx.get(f"{url}/metrics", headers={"X-Forwarded-For": "1.2.3.4"}).status_code == 404
        )
        assert httpx.get(f"{url}/other").status_code == 404
    finally:
        stop()
    assert not permitted({}, "10.0.0.5", "")
    assert permitted({"authorization": "Bearer s3cret"}, "10.0.0.5", "s3cret")
    assert not permitted({"authorization": "Bearer nope"}, "127.0.0.1", "s3cret")
    assert not permitted({}, "127.0.0.1", "s3cret")


def command(args: list[str], port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "POSTEX_LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": "/nonexistent"}
    cmd = [sys.executable, "-m", "postex", *args, "--metrics-port", str(port)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def scrape_when_up(
    proc: subprocess.Popen[bytes], port: int
) -> dict[str, list[tuple[dict[str, str], float]]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            if answer.status_code == 200:
                return families(answer.text)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("no /metrics")


def finish(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.sqlite_only
def test_worker_serves_its_metrics(node: Container) -> None:
    """The inherited PROMETHEUS_MULTIPROC_DIR (here a path that does not exist) is dropped:
    the worker keeps its metrics in memory and starts."""
    customer = new_customer(node)
    new_items(node, customer.record.id, 2)
    port = free_port()
    proc = command(["worker", "--db", node.settings.db_url, "--home", str(node.settings.home)],
                   port)  # fmt: skip
    try:
        found = scrape_when_up(proc, port)
        assert [v for _, v in found["postex_db_up"]] == [1]
        states = {ls["state"] for ls, _ in found["postex_webhook_deliveries"]}
        assert states == {"pending", "failed"}
        assert "postex_webhook_attempts_last_hour" in found
        assert "postex_server_processes" not in found  # its own process, not serve's workers
    finally:
        finish(proc)
    assert proc.returncode == 0


@pytest.fixture
def nats_prefix() -> Iterator[tuple[str, str]]:
    need_service("NATS", NATS_URL, "POSTEX_TEST_NATS_URL")
    name = "pxt" + secrets.token_hex(4)
    yield NATS_URL, name
    from postex.network.app.wire import Subjects
    from postex.network.nats.jetstream import delete_stream

    with contextlib.suppress(Exception):
        asyncio.run(delete_stream(NATS_URL, Subjects(name)))


def test_replicate_and_hub_consume_serve_their_metrics(
    tmp_path: Path, nats_prefix: tuple[str, str]
) -> None:
    nats, prefix = nats_prefix
    site = make_node(tmp_path / "site", f"sqlite:///{tmp_path / 'site.db'}", role="site",
                     nats_url=nats, nats_prefix=prefix)  # fmt: skip
    customer = new_customer(site)
    new_items(site, customer.record.id, 2)
    site.close()
    site_port, hub_port = free_port(), free_port()
    rep = command(["replicate", "--db", f"sqlite:///{tmp_path / 'site.db'}", "--home",
                   str(tmp_path / "site"), "--site", "GBLALA", "--nats", nats, "--prefix", prefix],
                  site_port)  # fmt: skip
    hub_db = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = command(["hub", "consume", "--db", hub_db, "--home", str(tmp_path / "hub"),
                   "--nats", nats, "--prefix", prefix], hub_port)  # fmt: skip
    try:
        on_site = scrape_when_up(rep, site_port)
        lag = {ls["site"]: v for ls, v in on_site["postex_replication_lag_events"]}
        assert "GBLALA" in lag and lag["GBLALA"] >= 0
        assert "postex_replication_lag_seconds" in on_site
        on_hub = scrape_when_up(hub, hub_port)
        info = on_hub["postex_node_info"][0][0]
        assert info["role"] == "hub"
        assert "postex_integrity_alarms_open" in on_hub and "postex_verify_runs_total" in on_hub
    finally:
        finish(rep)
        finish(hub)
