"""Per-key rate limiting (429 + Retry-After) and the request body limit (413)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from postex.accounts.app.rate_limits import SlidingWindow
from postex.bootstrap import Container, build
from postex.config import load_settings
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres
from postex.kernel.errors import ConfigurationError
from postex.server import MAX_BODY_BYTES, create_app
from tests.conftest import make_node
from tests.factories import Caller, ManualClock, make_caller


@pytest.mark.sqlite_only
@pytest.mark.node(api_rate_per_second=1, api_burst=3)
def test_a_key_over_its_rate_gets_429_with_retry_after(node: Container) -> None:
    """After its burst a key gets 429 problems with Retry-After; another key is unaffected."""
    alice, bob = make_caller(node, "Alice"), make_caller(node, "Bob")
    with TestClient(create_app(node)) as client:
        codes = [client.get("/api/v1/items", headers=alice.headers).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200]
        assert codes[3:] == [429, 429]
        r = client.get("/api/v1/items", headers=alice.headers)
        assert r.headers["content-type"] == "application/problem+json"
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["retry_after"] >= 1
        assert client.get("/api/v1/items", headers=bob.headers).status_code == 200


@pytest.mark.sqlite_only
def test_body_over_the_limit_is_413_problem(client: TestClient, alice: Caller) -> None:
    """A manifest body over 32 MiB is refused with a 413 problem before it is parsed."""
    body = b"[" + b" " * MAX_BODY_BYTES + b"]"
    headers = {**alice.headers, "Content-Type": "application/json"}
    r = client.post("/api/v1/manifests", content=body, headers=headers)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["rule"] == "max_body_bytes"


@pytest.mark.sqlite_only
def test_default_limits_do_not_throttle_normal_use(client: TestClient, alice: Caller) -> None:
    """The default per-key budget allows well over a hundred quick requests in a row."""
    codes = {client.get("/api/v1/items", headers=alice.headers).status_code for _ in range(150)}
    assert codes == {200}


RATE_T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def _two_nodes(tmp_path: Path, url: str, clock: ManualClock, **settings: object) -> list[Container]:
    """Two nodes (two engines, as two server processes) on one database and one key
    directory (the node's row key checks what the other wrote), one manual clock."""
    first = make_node(tmp_path / "a", url, api_rate_per_second=1, api_burst=5, **settings)
    second = build(
        load_settings(home=str(tmp_path / "a"), db_url=url, webhook_worker_seconds=0,
                      api_rate_per_second=1, api_burst=5, **settings),
        create=True, clock=clock,
    )  # fmt: skip
    first.ctx.clock = clock  # type: ignore[misc]  # tests move time by hand
    return [first, second]


def _alternate(nodes: list[Container], caller: Caller, n: int) -> list[int]:
    """``n`` requests of one key, sent to the two app instances in turn: their statuses."""
    clients = [TestClient(create_app(c)) for c in nodes]
    return [
        clients[i % 2].get("/api/v1/webhooks", headers=caller.headers).status_code for i in range(n)
    ]


def test_two_app_instances_share_one_budget(tmp_path: Path, db_url: str) -> None:
    """A key sending to two server processes gets its burst once, not once per process; the
    budget comes back with time as one sliding window of burst/rate seconds."""
    clock = ManualClock(RATE_T0)
    nodes = _two_nodes(tmp_path, db_url, clock, api_rate_scope="shared")
    try:
        alice, bob = make_caller(nodes[0], "Alice"), make_caller(nodes[0], "Bob")
        codes = _alternate(nodes, alice, 12)
        assert codes == [200] * 5 + [429] * 7
        assert _alternate(nodes, bob, 2) == [200, 200]  # another key has its own budget
        # 8.5 s on, 3.5 s into the next 5 s window: the first window still counts 30 %
        # (1.5 of its 5 requests), so 3 more fit.
        clock.advance(seconds=8.5)
        assert _alternate(nodes, alice, 6) == [200] * 3 + [429] * 3
        clock.advance(seconds=11)  # two windows on: all of it again
        assert _alternate(nodes, alice, 7) == [200] * 5 + [429] * 2
    finally:
        for c in nodes:
            c.close()


def test_per_process_limits_give_each_process_the_burst(tmp_path: Path, sqlite_url: str) -> None:
    """With api_rate_scope "process" (the "auto" choice on SQLite), each process has its own
    bucket: twice the burst in all."""
    nodes = _two_nodes(tmp_path, sqlite_url, ManualClock(RATE_T0), api_rate_scope="process")
    try:
        alice = make_caller(nodes[0], "Alice")
        assert _alternate(nodes, alice, 12) == [200] * 10 + [429] * 2
    finally:
        for c in nodes:
            c.close()


def test_shared_windows_count_only_allowed_requests(node: Container) -> None:
    """The store's one-statement window: refused requests are not counted (a key a little
    over its rate still gets its rate), the previous window counts by its share, a window
    two back not at all, and a process with a clock behind counts in the current window."""
    take = node.rate_windows.take
    assert [take("k1", 100, 1.0, 3) for _ in range(13)] == [True] * 3 + [False] * 10
    # Half of window 100 still counts: 3 * 0.5 + 1 fits a limit of 3, a second one not.
    assert [take("k1", 101, 0.5, 3) for _ in range(3)] == [True, False, False]
    assert take("k1", 100, 1.0, 3) is False  # a clock behind: counted in window 101
    # Window 103: window 101 (one request) is two back and no longer counts.
    assert [take("k1", 103, 0.9, 3) for _ in range(4)] == [True] * 3 + [False]
    assert take("k2", 103, 0.9, 3) is True  # every key has its own row
    ph = "%s" if is_postgres(node.engine) else "?"
    rows = execute_raw(
        node.engine,
        f"SELECT window_index, previous_hits, hits FROM api_rate_windows WHERE key_id = {ph}",
        ["k1"],
    )
    assert rows == [(103, 0, 3)]


def test_sliding_window_arithmetic() -> None:
    w = SlidingWindow.of(rate=100, burst=1000)
    assert (w.seconds, w.limit) == (10.0, 1000)
    index, keep = w.position(1_000_003.5)
    assert index == 100_000 and keep == pytest.approx(0.65)
    assert w.retry_after(1_000_003.5) == 7
    assert w.retry_after(1_000_009.99) == 1
    with pytest.raises(ValueError, match="rate"):
        SlidingWindow.of(rate=0, burst=10)


def test_unknown_rate_scope_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="api_rate_scope"):
        load_settings(home=str(tmp_path), api_rate_scope="cluster").resolved()
