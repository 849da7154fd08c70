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
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict
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


def _serve_two(node: Container, port: int, files: Path, output: int) -> subprocess.Popen[bytes]:
    """``postex serve --workers 2`` on ``port``, its metric files in ``files`` (emptied of
    *.db at start: not the directory of the node's own file)."""
    s = node.settings
    env = {**os.environ, "POSTEX_WEBHOOK_WORKER_SECONDS": "0", "POSTEX_LOG_FORMAT": "json",
           "PROMETHEUS_MULTIPROC_DIR": str(files)}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "postex", "serve", "--home", str(s.home), "--db", s.db_url,
         "--port", str(port), "--workers", "2"],
        env=env, stdout=output, stderr=output,
    )  # fmt: skip


def _listening(port: int) -> int:
    """Sockets listening on ``port`` (IPv4), from /proc/net/tcp."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for r in rows if r.split()[1].endswith(f":{port:04X}") and r.split()[3] == "0A")


def _healthz_by_worker(directory: Path) -> dict[int, float]:
    """/healthz requests each worker has counted, from its own metrics file."""
    found: dict[int, float] = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for key, value, _stamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            name, _sample, labels, _help = json.loads(key)
            if name == "postex_http_requests" and labels.get("route") == "/healthz":
                found[pid] = found.get(pid, 0.0) + value
    return found


def test_two_workers_share_the_port_and_their_metrics_add_up(
    node: Container, tmp_path: Path
) -> None:
    port = _free_port()
    files = tmp_path / "metrics"
    proc = _serve_two(node, port, files, subprocess.PIPE)
    try:
        _two_up(proc, port)
        for _ in range(41):
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
        # Each worker listens on a socket of its own (postex.cli.workers): the kernel
        # spreads new connections over both, so both answered some of the 41.
        assert _listening(port) == 2
        by_worker = _healthz_by_worker(files)
        assert len(by_worker) == 2 and sum(by_worker.values()) == 41, by_worker
        assert min(by_worker.values()) >= 5, by_worker
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


def _workers(pid: int) -> set[int]:
    """The server processes ``pid`` supervises (multiprocessing's spawned children; not
    its resource tracker)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            try:
                line = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in line:
                found.add(int(child))
    return found


def _two_up(proc: subprocess.Popen[bytes], port: int) -> float:
    """Wait for both workers and their two sockets; the deadline for what follows."""
    deadline = time.monotonic() + 60
    while _listening(port) < 2 or len(_workers(proc.pid)) < 2:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"serve --workers 2 did not start two workers: {proc.communicate()}")
        time.sleep(0.2)
    return deadline


def test_a_worker_that_dies_is_followed_by_one_on_its_socket(
    node: Container, tmp_path: Path
) -> None:
    port = _free_port()
    files = tmp_path / "metrics"
    proc = _serve_two(node, port, files, subprocess.DEVNULL)
    try:
        deadline = _two_up(proc, port)
        first = _workers(proc.pid)
        os.kill(min(first), signal.SIGKILL)
        while len(_workers(proc.pid) - first) < 1 or _listening(port) < 2:
            assert time.monotonic() < deadline, "the dead worker was not followed"
            time.sleep(0.2)
        for _ in range(40):  # every new connection answered, on either socket
            status, _, _ = _get(port, "/healthz")
            assert status == 200
        by_worker = _healthz_by_worker(files)
        assert set(by_worker) <= _workers(proc.pid) | first and len(by_worker) == 2, by_worker
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_sighup_replaces_each_worker_on_its_socket(node: Container, tmp_path: Path) -> None:
    port = _free_port()
    proc = _serve_two(node, port, tmp_path / "metrics", subprocess.DEVNULL)
    try:
        deadline = _two_up(proc, port)
        first = _workers(proc.pid)
        proc.send_signal(signal.SIGHUP)  # uvicorn's supervisor: replace them one by one
        while (now := _workers(proc.pid)) & first or len(now) < 2:
            assert time.monotonic() < deadline, f"not replaced: {first} -> {now}"
            time.sleep(0.2)
        assert _listening(port) == 2
        for _ in range(40):
            assert _get(port, "/healthz")[0] == 200
        by_worker = _healthz_by_worker(tmp_path / "metrics")
        assert set(by_worker) == now, by_worker  # both new workers answered
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
