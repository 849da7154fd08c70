"""`postex serve --workers 2`: two processes share one port and /metrics adds them up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from postex.bootstrap import Container
from postex.http import observe

pytestmark = pytest.mark.sqlite_only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(port: int, path: str) -> tuple[int, str, dict[str, str]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.status, r.read().decode(), dict(r.headers)


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == name]  # fmt: skip


def test_two_workers_share_the_port_and_their_metrics_add_up(node: Container) -> None:
    s = node.settings
    port = _free_port()
    env = {**os.environ, "POSTEX_WEBHOOK_WORKER_SECONDS": "0", "POSTEX_LOG_FORMAT": "json"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "postex", "serve", "--home", str(s.home), "--db", s.db_url,
         "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(port, "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "serve --workers 2 did not answer"
                time.sleep(0.3)
        for _ in range(40):
            _get(port, "/healthz")
        status, _, headers = _get(port, "/readyz")
        assert status == 200 and len(headers["x-request-id"]) == 32
        # Every request, whichever worker answered it: the worker that does not answer the
        # scrape moves its counts within observe.FLUSH_SECONDS (a few scrapes at most).
        served, scrapes = 0.0, 0
        while served < 41 and scrapes < 20:
            time.sleep(observe.FLUSH_SECONDS if scrapes else 0)
            _, text, _ = _get(port, "/metrics")
            scrapes += 1
            served = sum(v for labels, v in _samples(text, "postex_http_requests_total")
                         if labels["route"] == "/healthz")  # fmt: skip
        assert served == 41
        assert _samples(text, "postex_server_processes")[0][1] == 2
        assert _samples(text, "process_resident_memory_bytes")[0][1] > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    # Every request's line, though lines wait up to logs.FLUSH_SECONDS: the workers'
    # shutdown (SIGTERM) writes what is left.
    assert len(requests) == 41 + 1 + scrapes
    assert all(r["route"] in ("/healthz", "/readyz", "/metrics") for r in requests)
    assert len({r["request_id"] for r in requests}) == len(requests)
    assert "with 2 workers" in out.decode()
