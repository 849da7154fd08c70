"""Per-key rate limiting (429 + Retry-After) and the request body limit (413)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.entrypoints.http.app import MAX_BODY_BYTES, create_app
from tests.conftest import make_node
from tests.customer_api.conftest import Caller, make_caller


@pytest.fixture
def strict_node(tmp_path: Path, sqlite_url: str) -> Iterator[Container]:
    c = make_node(tmp_path / "home", sqlite_url, api_rate_per_second=1, api_burst=3)
    yield c
    c.close()


def test_a_key_over_its_rate_gets_429_with_retry_after(strict_node: Container) -> None:
    """After its burst a key gets 429 problems with Retry-After; another key is unaffected."""
    alice, bob = make_caller(strict_node, "Alice"), make_caller(strict_node, "Bob")
    with TestClient(create_app(strict_node)) as client:
        codes = [client.get("/api/v1/items", headers=alice.headers).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200]
        assert codes[3:] == [429, 429]
        r = client.get("/api/v1/items", headers=alice.headers)
        assert r.headers["content-type"] == "application/problem+json"
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["retry_after"] >= 1
        assert client.get("/api/v1/items", headers=bob.headers).status_code == 200


def test_body_over_the_limit_is_413_problem(
    sqlite_client: TestClient, sqlite_alice: Caller
) -> None:
    """A manifest body over 32 MiB is refused with a 413 problem before it is parsed."""
    body = b"[" + b" " * MAX_BODY_BYTES + b"]"
    headers = {**sqlite_alice.headers, "Content-Type": "application/json"}
    r = sqlite_client.post("/api/v1/manifests", content=body, headers=headers)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["rule"] == "max_body_bytes"


def test_default_limits_do_not_throttle_normal_use(
    sqlite_client: TestClient, sqlite_alice: Caller
) -> None:
    """The default per-key budget allows well over a hundred quick requests in a row."""
    codes = {
        sqlite_client.get("/api/v1/items", headers=sqlite_alice.headers).status_code
        for _ in range(150)
    }
    assert codes == {200}
