"""`postex bench serve` reads wrk's report right (the percentiles, not the stdev column)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from postex.bench import serve

WRK = """Running 8s test @ http://127.0.0.1:40000/api/v1/tracking/x
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.21ms    2.02ms  40.10ms   87.50%
    Req/Sec     1.62k   150.33     1.90k    50.00%
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.90ms
     99%   11.90ms
  12856 requests in 8.00s, 5.13MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   1606.93
Transfer/sec:    656.09KB
"""


def test_a_wrk_report_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(cmd: list[str], **_kw: object) -> subprocess.CompletedProcess[str]:
        assert cmd[:5] == ["wrk", "-t1", "-c2", "-d8s", "--latency"]
        return subprocess.CompletedProcess(cmd, 0, WRK, "")

    monkeypatch.setattr(serve.subprocess, "run", fake)
    r = serve.wrk("case", 40000, Path("s.lua"), "/x", 2, 8)
    assert (r.rate, r.p50_ms, r.p99_ms, r.errors) == (1606.93, 0.812, 11.9, 3)
