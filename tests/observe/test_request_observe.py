"""The request's metrics and log line as the middleware makes them cheaply: the same
histogram buckets as ``Histogram.observe``, the same JSON object as the general log path,
ids that differ between forked workers, and request lines buffered for at most
``logs.FLUSH_SECONDS``."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from prometheus_client import CollectorRegistry, Histogram

from postex import logs
from postex.http import metrics, observe


@pytest.fixture
def reset_logs() -> Iterator[None]:
    yield
    logs.configure("json", "info", stream=io.StringIO())
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "postex"]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def samples(histogram: Any, **labels: str) -> dict[tuple[str, str], float]:
    found = {}
    for family in histogram.collect():
        for s in family.samples:
            if all(s.labels.get(k) == v for k, v in labels.items()):
                found[(s.name.rsplit("_", 1)[-1], s.labels.get("le", ""))] = s.value
    return found


def test_request_durations_land_in_the_buckets_observe_would_choose() -> None:
    route = "/test/observe/{bucket}"
    reference = Histogram("ref_seconds", "reference", buckets=metrics.LATENCY_BUCKETS,
                          registry=CollectorRegistry())  # fmt: skip
    tally = observe._Tally("GET", route, 200)
    # Bounds exactly, between bounds, below the first and beyond the last; moved twice.
    for seconds in (0.0002, 0.001, 0.0011, 0.0025, 0.049, 0.05, 0.7, 10.0, 42.0):
        tally.add(seconds)
        reference.observe(seconds)
        if seconds == 0.0025:
            tally.move()
            assert samples(metrics.HTTP_DURATION, route=route)[("count", "")] == 4
    assert samples(metrics.HTTP_DURATION, route=route)[("count", "")] == 4  # not yet moved
    tally.move()
    tally.move()  # nothing waiting: nothing added
    got = samples(metrics.HTTP_DURATION, route=route)
    want = samples(reference)
    assert got == want and got[("bucket", "0.001")] == 2 and got[("count", "")] == 9
    total = sum(v for ls, v in _requests(route) if ls["status"] == "200")
    assert total == 9


def _instant_route(path: str) -> Any:
    class Route:
        pass

    route = Route()
    route.path = path  # type: ignore[attr-defined]

    async def app(scope: Any, _receive: Any, send: Any) -> None:
        scope["route"] = route
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def _get(app: Any) -> Any:
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(_message: Any) -> None:
        return None

    return app(scope, receive, send)


def test_request_counts_reach_the_metrics_within_the_flush_interval() -> None:
    route = "/test/observe/timer"
    app = observe.Observe(_instant_route(route), with_log=False)

    async def requests() -> tuple[float, float, float]:
        for _ in range(3):
            await _get(app)
        await asyncio.sleep(0)
        waiting = sum(v for _, v in _requests(route))
        await asyncio.sleep(observe.FLUSH_SECONDS + 0.05)
        moved = sum(v for _, v in _requests(route))
        await _get(app)
        app.flush_metrics()  # as a scrape does
        return waiting, moved, sum(v for _, v in _requests(route))

    assert asyncio.run(requests()) == (0, 3, 4)
    # The timer of that loop never runs now: the next request, on a new loop, finds it
    # overdue and moves what waited.
    asyncio.run(_get(app))
    time.sleep(2 * observe.FLUSH_SECONDS + 0.01)

    async def later() -> float:
        await _get(app)
        return sum(v for _, v in _requests(route))

    assert asyncio.run(later()) >= 5


def _requests(route: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for f in metrics.HTTP_REQUESTS.collect() for s in f.samples
            if s.labels.get("route") == route and s.name.endswith("_total")]  # fmt: skip


def _line(stream: io.StringIO) -> dict[str, Any]:
    [line] = stream.getvalue().split("\n")[:-1]  # not splitlines: U+2028 is in a line
    stream.seek(0)
    stream.truncate()
    found: dict[str, Any] = json.loads(line)
    return found


@pytest.mark.parametrize(
    "caller", [None, ("customer", "cus_01"), ("staff", 'usr_"quoted"\\ é\u2028')]
)
def test_the_request_line_is_the_object_the_general_path_writes(
    reset_logs: None, caller: tuple[str, str] | None
) -> None:
    stream = io.StringIO()
    logs.configure("json", "info", stream=stream)
    logs.request("POST", "/api/v1/items/{item_id}", 201, 0.0125, caller, "rid-1.a_b")
    fast = _line(stream)
    with structlog.contextvars.bound_contextvars(request_id="rid-1.a_b"):
        logs.info("postex.http", "request", method="POST", route="/api/v1/items/{item_id}",
                  status=201, duration_ms=12.5, caller_kind=caller[0] if caller else None,
                  caller_id=caller[1] if caller else None)  # fmt: skip
    general = _line(stream)
    assert fast.pop("timestamp")[:10] == general.pop("timestamp")[:10]
    assert list(fast.items()) == list(general.items())  # the same keys, in the same order


def test_the_request_line_writes_durations_as_the_general_path_does(reset_logs: None) -> None:
    stream = io.StringIO()
    logs.configure("json", "info", stream=stream)
    for seconds in (0.0, 0.000004, 0.000005, 0.00001, 0.0001, 0.0012345, 0.0125, 0.0999999,
                    0.1, 1.005, 2.675, 59.99996, 12345.678901):  # fmt: skip
        logs.request("GET", "/healthz", 200, seconds, None, "rid")
        fast = stream.getvalue()
        stream.seek(0)
        stream.truncate()
        with structlog.contextvars.bound_contextvars(request_id="rid"):
            ms = round(seconds * 100_000) / 100
            logs.info("postex.http", "request", method="GET", route="/healthz", status=200,
                      duration_ms=ms, caller_kind=None, caller_id=None)  # fmt: skip
        general = stream.getvalue()
        stream.seek(0)
        stream.truncate()
        text = fast.split('"duration_ms":')[1].split(",")[0]
        assert text == general.split('"duration_ms":')[1].split(",")[0] == repr(ms)
        assert abs(float(text) - seconds * 1000) <= 0.005 + 1e-9


def test_a_request_id_shaped_like_a_key_is_blanked(reset_logs: None) -> None:
    stream = io.StringIO()
    logs.configure("json", "info", stream=stream)
    logs.request("GET", "/healthz", 200, 0.001, ("customer", "cus_1"), "pxk_abc_def")
    line = _line(stream)
    assert line["request_id"] == "[redacted]" and line["route"] == "/healthz"


def test_request_ids_are_new_in_a_forked_worker() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then out without running the parent's cleanup
        os.write(write, observe.new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    mine = observe.new_request_id()
    assert len(child) == len(mine) == 32 and child != mine
    assert len({observe.new_request_id() for _ in range(1000)}) == 1000


def test_lines_to_stderr_wait_at_most_the_flush_interval(
    reset_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("json", "info")  # the process's stderr, as in a served node

    async def two_requests() -> tuple[str, str, str]:
        logs.request("GET", "/healthz", 200, 0.001, None, "one")
        logs.request("GET", "/healthz", 200, 0.001, None, "two")
        await asyncio.sleep(0)  # passes of the loop do not write them
        during = capsys.readouterr().err
        await asyncio.sleep(logs.FLUSH_SECONDS / 2)
        half = capsys.readouterr().err
        await asyncio.sleep(logs.FLUSH_SECONDS / 2 + 0.05)  # the timer has run
        return during, half, capsys.readouterr().err

    during, half, after = asyncio.run(two_requests())
    assert during == half == ""
    assert [json.loads(x)["request_id"] for x in after.splitlines()] == ["one", "two"]
    logs.request("GET", "/healthz", 200, 0.001, None, "three")  # no event loop: at once
    assert json.loads(capsys.readouterr().err)["request_id"] == "three"


class Writes(io.StringIO):
    """A stderr that keeps each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def taken(self) -> list[str]:
        found, self.writes = self.writes, []
        return found


@pytest.fixture
def err(reset_logs: None) -> Writes:
    """The process's stderr, each write apart, with JSON lines to it (as a served node)."""
    stream = Writes()
    logs.configure("json", "info")  # to stderr: lines grouped, as in a served node
    # Then the stream itself in stderr's place (pytest's capture swaps sys.stderr around a
    # fixture and its test).
    # reset_logs configures the logs anew after the test.
    logs._json_sink[0] = stream
    return stream


def _ids(writes: list[str]) -> list[str]:
    return [json.loads(x)["request_id"] for x in "".join(writes).splitlines()]


def test_a_full_buffer_a_late_timer_and_flush_write_the_lines(err: Writes) -> None:

    async def requests() -> tuple[list[str], list[str], list[str]]:
        for n in range(1, logs.MAX_WAITING):
            logs.request("GET", "/healthz", 200, 0.001, ("staff", f"usr_{n}"), f"r{n}")
        assert err.taken() == []  # all of them wait for the timer
        logs.request("GET", "/healthz", 200, 0.001, None, f"r{logs.MAX_WAITING}")
        written = err.taken()  # the one that filled the buffer writes them all
        logs.request("GET", "/healthz", 200, 0.001, None, "waits")
        logs.flush()  # as the server's shutdown does
        flushed = err.taken()
        logs.request("GET", "/healthz", 200, 0.001, None, "stuck")
        return written, flushed, err.taken()

    written, flushed, later = asyncio.run(requests())
    assert _ids(written) == [f"r{i}" for i in range(1, logs.MAX_WAITING + 1)]
    sizes = [len(w.encode()) for w in written]
    assert len(written) > 1 and all(w.endswith("\n") for w in written)  # whole lines
    assert max(sizes) <= logs.FLUSH_BYTES  # each write atomic on a pipe
    line = len(written[0].splitlines()[0]) + 1
    assert all(size + line > logs.FLUSH_BYTES for size in sizes[:-1])  # and as full as can be
    assert _ids(flushed) == ["waits"] and later == []
    # "stuck" waits on the timer of an event loop that has stopped: the next line, once
    # that timer is overdue, writes both.
    time.sleep(logs.FLUSH_SECONDS)

    async def one_more() -> list[str]:
        logs.request("GET", "/healthz", 200, 0.001, None, "next")
        return err.taken()

    assert _ids(asyncio.run(one_more())) == ["stuck", "next"]


def test_another_log_line_comes_after_the_request_lines_before_it(err: Writes) -> None:

    async def lines() -> list[str]:
        logs.request("GET", "/healthz", 200, 0.001, None, "first")
        logs.info("postex.test", "between")
        logs.request("GET", "/healthz", 200, 0.001, None, "last")
        logs.flush()
        return "".join(err.taken()).splitlines()

    events = [json.loads(x).get("request_id", json.loads(x)["event"]) for x in asyncio.run(lines())]
    assert events == ["first", "between", "last"]
