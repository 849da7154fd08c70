"""The customer routes document every problem status they can give, as problem+json."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Caller

# Authentication, role, strict query, body size (middleware: any request), rate limit.
ALWAYS = {"401", "403", "413", "422", "429"}


def _customer_operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, ops in spec["paths"].items()
        if path.startswith(("/api/v1/items", "/api/v1/manifests"))
        for method, op in ops.items()
    }


@pytest.mark.sqlite_only
def test_every_customer_route_declares_its_problems(client: TestClient) -> None:
    ops = _customer_operations(client.get("/openapi.json").json())
    assert len(ops) == 10  # with the receipt and the certificate of posting
    for (method, path), op in ops.items():
        statuses = {s for s in op["responses"] if s[0] in "45"}
        expected = set(ALWAYS)
        if "{item_id}" in path:
            expected.add("404")
        if method == "POST":
            expected |= {"409", "503"}  # 503: the key-encryption key is missing
        if method == "DELETE" or path.endswith(".pdf"):
            expected.add("409")
        assert statuses == expected, (method, path)
        for status in statuses:
            content = op["responses"][status]["content"]
            assert list(content) == ["application/problem+json"], (method, path, status)
            assert content["application/problem+json"]["schema"]["title"] == "Problem"


@pytest.mark.sqlite_only
def test_creating_routes_document_the_erased_account(client: TestClient) -> None:
    ops = _customer_operations(client.get("/openapi.json").json())
    for key in (("POST", "/api/v1/items"), ("POST", "/api/v1/manifests")):
        forbidden = ops[key]["responses"]["403"]
        assert "customer_erased" in forbidden["description"]
        examples = forbidden["content"]["application/problem+json"]["examples"]
        assert examples["customer_erased"]["value"]["rule"] == "customer_erased"
        assert (
            "idempotency_key_reused"
            in ops[key]["responses"]["409"]["content"]["application/problem+json"]["examples"]
        )


@pytest.mark.sqlite_only
def test_manifest_body_documents_the_multipart_upload(client: TestClient) -> None:
    ops = _customer_operations(client.get("/openapi.json").json())
    content = ops[("POST", "/api/v1/manifests")]["requestBody"]["content"]
    assert set(content) == {"application/json", "text/csv", "multipart/form-data"}
    form = content["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert form["properties"]["file"]["format"] == "binary"


@pytest.mark.sqlite_only
def test_unparseable_json_names_the_body(client: TestClient, alice: Caller) -> None:
    r = client.post(
        "/api/v1/items",
        content=b'{"service": ',
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["rule"]) == ("body", "json_invalid")
    latin1 = client.post(
        "/api/v1/items",
        content='{"service": "tracked", "reference": "Ñ"}'.encode("latin-1"),
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert latin1.status_code == 422
    assert (latin1.json()["field"], latin1.json()["rule"]) == ("body", "json_invalid")


@pytest.mark.sqlite_only
def test_body_limit_is_declared_on_every_operation(client: TestClient) -> None:
    """The 413 comes from middleware, so every operation of the whole API can give it."""
    spec = client.get("/openapi.json").json()
    operations = [op for ops in spec["paths"].values() for op in ops.values()]
    assert len(operations) > 20
    for op in operations:
        assert list(op["responses"]["413"]["content"]) == ["application/problem+json"]
    items = spec["paths"]["/api/v1/items"]["get"]["responses"]["413"]
    assert items["content"]["application/problem+json"]["example"]["rule"] == "max_body_bytes"


@pytest.mark.sqlite_only
def test_webhook_routes_declare_their_problems(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ops = {
        (method.upper(), path): op
        for path, methods in spec["paths"].items()
        if path.startswith("/api/v1/webhooks")
        for method, op in methods.items()
    }
    assert len(ops) == 7
    for (method, path), op in ops.items():
        statuses = {s for s in op["responses"] if s[0] in "45"}
        expected = set(ALWAYS)
        if "{webhook_id}" in path:
            expected.add("404")
        if (method, path) == ("POST", "/api/v1/webhooks"):
            expected.add("503")
        assert statuses == expected, (method, path)
    created = ops[("POST", "/api/v1/webhooks")]["responses"]["403"]
    assert "customer_erased" in created["content"]["application/problem+json"]["examples"]


@pytest.mark.sqlite_only
def test_too_large_body_is_refused_on_any_route(client: TestClient, alice: Caller) -> None:
    """Even a GET with a body over the limit: the documented 413 problem."""
    from postex.server import MAX_BODY_BYTES

    r = client.request(
        "GET",
        "/api/v1/items",
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers=alice.headers,
    )
    assert r.status_code == 413
    assert r.json()["rule"] == "max_body_bytes"


@pytest.mark.sqlite_only
def test_authentication_comes_before_parameter_checks(client: TestClient, alice: Caller) -> None:
    """Without a valid key: 401 for an unknown query parameter, a bad parameter value and an
    undecodable body alike; the caller learns nothing about the parameters. With a key, the
    same requests are the 422 problems that name them."""
    bad_key = {"Authorization": "Bearer pxk_not_a_key"}
    requests: list[tuple[str, str, dict[str, object]]] = [
        ("GET", "/api/v1/items?colour=red", {}),
        ("GET", "/api/v1/items?limit=0", {}),
        ("DELETE", "/api/v1/items/LA100000003GB?force=1", {}),
        ("POST", "/api/v1/items", {"content": b'{"service": '}),
        ("POST", "/api/v1/items", {"json": {"service": 7}}),
        ("POST", "/api/v1/manifests?dry_run=1", {"json": []}),
        ("POST", "/api/v1/webhooks", {"content": b"{"}),
    ]
    for method, url, kwargs in requests:
        for headers in ({}, bad_key):
            r = client.request(
                method, url, headers={**headers, "Content-Type": "application/json"}, **kwargs
            )
            assert r.status_code == 401, (method, url, headers, r.text)
            assert "field" not in r.json() and "errors" not in r.json()
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        r = client.request(
            method,
            url,
            headers={**alice.headers, "Content-Type": "application/json"},
            **kwargs,
        )
        assert r.status_code == 422, (method, url, r.text)
