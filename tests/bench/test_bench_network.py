"""`postex bench network` runs end to end on a tiny network against real NATS (no timing is
asserted: the figures belong in docs/benchmarks.md)."""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from postex.cli.main import app
from tests.conftest import NATS_URL, need_service

pytestmark = pytest.mark.nats
runner = CliRunner()


@pytest.mark.parametrize("mode", ["in-process", "--processes"])
def test_bench_network_reports_every_figure_as_one_json_document(mode: str) -> None:
    need_service("NATS", NATS_URL, "POSTEX_TEST_NATS_URL")
    extra = [mode] if mode.startswith("--") else []
    args = ["bench", "network", "--sites", "2", "--rate", "20", "--seconds", "2",
            "--backlog", "30", "--runs", "1", "--nats", NATS_URL, "--json", *extra]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    doc = json.loads(lines[0])
    assert doc["ok"] is True and doc["sites"] == 2
    # Every pre-advice reached every other site's items table, and was timed there.
    assert doc["items_written"] == 40 and doc["unseen"] == 0 and doc["items_tables_agree"]
    assert doc["samples"] > 0 and 0 < doc["p50_s"] <= doc["p99_s"] <= doc["max_s"]
    assert doc["oneway_median"] > 0 and doc["fanout_median"] > 0 and doc["ratio"] > 0
    assert 0 < doc["failover_confirm_s"] < doc["failover_s"] and doc["failover_items"] == 200
    assert ("OS process per node" in doc["throughput_mode"]) == bool(extra)


def test_bench_network_without_nats_exits_2_with_one_json_document() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    args = ["bench", "network", "--nats", f"nats://127.0.0.1:{port}", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout.strip())
    assert doc["ok"] is False and "no NATS server" in json.dumps(doc)
