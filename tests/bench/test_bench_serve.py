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


def test_cpu_of_a_process_and_its_children_is_read() -> None:
    import os

    spent = serve.cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))
    assert serve.cpu_seconds(os.getpid()) > spent >= 0


def test_the_report_gives_medians_and_same_round_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    def r(name: str, rate: float, cores: float) -> serve.Result:
        return serve.Result(name, rate, 0.2, 5.0, 0, 0.1, cores, 1.0)

    runs = [
        {"on": r("on", 800, 1), "off": r("off", 1000, 1), "nocache": r("n", 100, 1),
         "bare": r("bare", 1000, 1), "w1": r("w1", 1000, 1), "w2": r("w2", 1500, 1.9)},
        {"on": r("on", 1800, 1), "off": r("off", 2000, 1), "nocache": r("n", 200, 1),
         "bare": r("bare", 2000, 0.5), "w1": r("w1", 1000, 1), "w2": r("w2", 1700, 1.9)},
        {"on": r("on", 900, 1), "off": r("off", 1000, 1), "nocache": r("n", 100, 1),
         "bare": r("bare", 1000, 1), "w1": r("w1", 1000, 1), "w2": r("w2", 1600, 1.9)},
    ]  # fmt: skip
    serve.report(runs, 100_000, 2, 10)
    text = capsys.readouterr().out
    text = " ".join(text.split())  # as wrapped on a narrow terminal
    assert "tracking / bare async def: 0.90 (rounds: 0.80, 0.90, 0.90)" in text
    assert "by server CPU per request 0.80" in " ".join(text.split())  # 0.80, 0.45, 0.90
    assert "--workers 2 / --workers 1: 1.60 (rounds: 1.50, 1.70, 1.60)" in text
