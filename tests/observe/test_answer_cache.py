"""The per-process answer cache of public tracking (http.answers): served from memory only
while the database is unchanged, and still rate limited, logged and counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from postex.bootstrap import Container, build
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import parse_pre_advice
from postex.server import create_app
from tests.conftest import make_node
from tests.factories import ManualClock, item_payload, new_customer
from tests.tracking.conftest import T0, auth, partner_key

pytestmark = pytest.mark.sqlite_only  # PostgreSQL has no cheap generation: nothing cached


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def lookups(outcome: str) -> float:
    return REGISTRY.get_sample_value("postex_answer_cache_lookups_total", {"outcome": outcome}) or 0


def requests(client: TestClient, route: str, status: str) -> float:
    """From a scrape: it moves the counts waiting in the app (postex.http.observe) first."""
    assert client.get("/metrics").status_code == 200
    labels = {"method": "GET", "route": route, "status": status}
    return REGISTRY.get_sample_value("postex_http_requests_total", labels) or 0


def an_item(node: Container) -> str:
    c = new_customer(node)
    [item] = pre_advise(node.ctx, c.record.id, [parse_pre_advice(item_payload())])
    return item.id


def scan(client: TestClient, node: Container, item_id: str, code: str, day: int) -> None:
    answer = client.post("/api/v1/partner/events", json={"events": [
        {"item_id": item_id, "event_code": code, "occurred_at": f"2026-11-0{day}T15:22:00-05:00",
         "office": "USJFKA"}]}, headers=auth(partner_key(node, name=f"P{code}")))  # fmt: skip
    assert answer.status_code < 300, answer.text


def test_a_repeated_lookup_is_a_hit_with_the_same_answer_logged_and_counted(
    node: Container, client: TestClient
) -> None:
    item = an_item(node)
    route = "/api/v1/tracking/{item_id}"
    hits, misses, counted = lookups("hit"), lookups("miss"), requests(client, route, "200")
    first = client.get(f"/api/v1/tracking/{item}")
    second = client.get(f"/api/v1/tracking/{item}")
    assert lookups("miss") == misses + 1 and lookups("hit") == hits + 1
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    for name in ("etag", "cache-control", "content-type", "content-length"):
        assert first.headers[name] == second.headers[name]
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert requests(client, route, "200") == counted + 2  # the hit is in the route's metrics too


def test_a_new_event_is_visible_at_once_whoever_writes_it(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """Written through this app, or by another process's connection (a second node on the
    same file stands for another worker, `postex worker` or the CLI)."""
    item = an_item(node)
    before = client.get(f"/api/v1/tracking/{item}").json()
    assert client.get(f"/api/v1/tracking/{item}").json() == before  # cached
    clock.advance(days=4)
    scan(client, node, item, "EMD", 3)  # through this app
    after = client.get(f"/api/v1/tracking/{item}").json()
    assert [e["code"] for e in after["events"]][-1] == "EMD" and after != before
    page = client.get(f"/track/{item}").text
    assert client.get(f"/track/{item}").text == page  # cached
    other = build(node.settings, clock=clock)  # the same node, another connection pool
    try:
        with TestClient(create_app(other)) as elsewhere:
            scan(elsewhere, other, item, "EME", 4)
    finally:
        other.close()
    latest = client.get(f"/api/v1/tracking/{item}").json()
    assert [e["code"] for e in latest["events"]][-1] == "EME"
    assert client.get(f"/track/{item}").text != page


def test_conditional_requests_on_a_hit_answer_as_the_route(
    node: Container, client: TestClient, tmp_path: Path
) -> None:
    item = an_item(node)
    for path in (f"/api/v1/tracking/{item}", f"/track/{item}"):
        etag = client.get(path).headers["etag"]
        hits = lookups("hit")
        cached = client.get(path, headers={"If-None-Match": f'W/"x", {etag}'})
        assert lookups("hit") == hits + 1
        assert cached.status_code == 304 and cached.content == b""
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    # The route's own 304 (cache off) has exactly the same headers.
    off = make_node(tmp_path / "off", node.settings.db_url, answer_cache=False)
    with TestClient(create_app(off)) as plain:
        for path in (f"/api/v1/tracking/{item}", f"/track/{item}"):
            etag = plain.get(path).headers["etag"]
            route = plain.get(path, headers={"If-None-Match": etag})
            cached = client.get(path, headers={"If-None-Match": etag})
            drop = {"x-request-id"}
            assert route.status_code == cached.status_code == 304
            assert {k: v for k, v in route.headers.items() if k not in drop} == {
                k: v for k, v in cached.headers.items() if k not in drop
            }
    off.close()


def test_the_public_rate_limit_applies_to_hits(node: Container) -> None:
    """The routes' own limiter (one refill in ~3 hours: a slow machine cannot refill it)."""
    from postex.http.limits import RateLimiter

    item = an_item(node)
    app = create_app(node)
    app.state.public_limiter = RateLimiter(0.0001, 3)
    with TestClient(app) as client:
        codes = [client.get(f"/api/v1/tracking/{item}").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        refused = client.get(f"/api/v1/tracking/{item}")
        assert refused.headers["content-type"] == "application/problem+json"
        assert "retry-after" in refused.headers
        assert client.get(f"/track/{item}").status_code == 429


def test_what_is_not_cached(node: Container, client: TestClient) -> None:
    """Unknown and malformed ids, query strings (still refused by strict_query) and other
    paths go to the routes every time."""
    item = an_item(node)
    client.get(f"/api/v1/tracking/{item}")
    misses = lookups("miss")
    assert client.get(f"/api/v1/tracking/{item}?x=1").status_code == 422
    assert client.get("/api/v1/tracking/RB123456785GB").status_code == 404
    assert client.get("/api/v1/tracking/RB123456785GB").status_code == 404
    assert client.get("/api/v1/tracking/nope").status_code == 422
    assert client.get(f"/track/{item.lower()}").status_code == 200  # redirected, then cached
    assert lookups("miss") == misses + 5  # a query string is not even looked up
    body = json.loads(client.get(f"/api/v1/tracking/{item}").text)
    assert body["id"] == item


def test_the_cache_keeps_within_its_limits() -> None:
    """The oldest answers go first when the count or the bytes would pass the limit."""
    import asyncio

    from postex.http.answers import AnswerCache

    async def route(scope: dict, receive: object, send: object) -> None:
        body = b"x" * (100 if scope["path"].endswith("big") else 10)
        await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                    "headers": [(b"etag", b'"e"')]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})  # type: ignore[operator]

    cache = AnswerCache(route, prefixes=["/t/"], generation=lambda: 1,  # type: ignore[arg-type]
                        limiter=lambda app: None, max_entries=3, max_bytes=120)  # fmt: skip

    async def get(path: str) -> None:
        async def send(message: object) -> None:
            pass

        scope = {"type": "http", "method": "GET", "path": path, "headers": [], "app": None}
        await cache(scope, None, send)  # type: ignore[arg-type]

    async def run() -> None:
        for p in ("/t/a", "/t/b", "/t/c", "/t/d"):
            await get(p)
        assert list(cache._answers) == ["/t/b", "/t/c", "/t/d"]
        await get("/t/big")
        assert list(cache._answers) == ["/t/c", "/t/d", "/t/big"] and cache._bytes == 120
        await get("/t/e")
        assert list(cache._answers) == ["/t/d", "/t/big", "/t/e"] and cache._bytes == 120
        await get("/t/e")  # a hit: nothing moves
        assert list(cache._answers) == ["/t/d", "/t/big", "/t/e"] and cache._bytes == 120

    asyncio.run(run())


def test_the_generation_check_holds_no_read_open(tmp_path: Path) -> None:
    """Between checks the cache's connection holds no snapshot: a checkpoint can empty the
    WAL completely (a read left open would pin it)."""
    import sqlite3

    from postex.http.answers import SqliteGeneration

    path = tmp_path / "g.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    gen = SqliteGeneration(str(path))
    first = gen()
    writer.execute("INSERT INTO t VALUES (1)")
    second = gen()
    assert first is not None and second is not None and second != first
    assert gen() == second  # nothing committed since
    busy, _log, _done = writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    gen.close()
    writer.close()
