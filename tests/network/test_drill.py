"""`postex drill ransomware` runs the whole story and reports RTO and RPO."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.nats, pytest.mark.slow]


def test_drill_prints_rto_and_an_rpo_equal_to_the_unreplicated_events(nats_url: str) -> None:
    """With 4 events written while the link was down, the drill reports RPO 4, a verified
    site and hub, and traffic accepted again after the restore."""
    run = subprocess.run(
        [sys.executable, "-m", "postex", "drill", "ransomware", "--nats", nats_url,
         "--seconds", "1", "--offline-events", "4", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.splitlines()[0])
    assert 4 <= result["rpo_events"] <= 8  # the offline writes (whole pre-advice batches)
    assert result["ok"] and result["verified"] and result["hub_verified"]
    assert 0 < result["rto_seconds"] < 60
    assert result["replicated_at_destruction"] == result["restored_events"]
