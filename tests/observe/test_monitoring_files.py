"""docs/monitoring/: the alert rules pass promtool, and every metric the rules, the dashboard
and docs/monitoring.md name is one that /metrics serves (and every served one is explained)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from postex.http.metrics import WorkersCollector
from tests.conftest import IN_CI

DOCS = Path(__file__).parents[2] / "docs"
RULES = DOCS / "monitoring" / "alerts.yml"
DASHBOARD = DOCS / "monitoring" / "grafana-dashboard.json"
NAME = re.compile(r"\b((?:postex|process)_[a-z0-9_]+)")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
            "summary": ("_sum", "_count")}  # fmt: skip


def served(client: TestClient, tmp_path: Path) -> set[str]:
    """Every sample name /metrics can serve, with or without samples yet."""
    families = list(text_string_to_metric_families(client.get("/metrics").text))
    (tmp_path / "counter_1.db").write_bytes(b"")  # the multiprocess-only families too
    families += list(WorkersCollector(str(tmp_path)).collect())
    names: set[str] = set()
    for f in families:
        names |= {f.name + s for s in SUFFIXES.get(f.type, ("",))}
        names |= {s.name for s in f.samples}
    return names


def test_the_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if IN_CI:
            pytest.fail("promtool is required in CI (Debian's prometheus package)", pytrace=False)
        pytest.skip("promtool not installed (apt-get install prometheus)")
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rules_and_dashboard_name_only_served_metrics(client: TestClient, tmp_path: Path) -> None:
    names = served(client, tmp_path)
    in_rules = set(NAME.findall(RULES.read_text()))
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    in_dashboard = {n for e in exprs for n in NAME.findall(e)}
    assert in_rules and in_dashboard
    assert in_rules - names == set()
    assert in_dashboard - names == set()
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and all(
        p["title"] and p["targets"] for p in dashboard["panels"]
    )


def test_every_metric_and_alert_is_explained(client: TestClient, tmp_path: Path) -> None:
    doc = (DOCS / "monitoring.md").read_text()
    families = {n for n in served(client, tmp_path) if n.startswith("postex_")}
    bases = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in families}
    missing = {b for b in bases if b not in doc}
    assert missing == set()
    alerts = re.findall(r"alert: (\w+)", RULES.read_text())
    assert [a for a in alerts if f"`{a}`" not in doc and f"### {a}" not in doc] == []
