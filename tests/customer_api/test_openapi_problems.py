"""The customer routes document every problem status they can give, as problem+json."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.customer_api.conftest import Caller

ALWAYS = {"401", "403", "422", "429"}  # authentication, role, strict query, rate limit


def _customer_operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, ops in spec["paths"].items()
        if path.startswith(("/api/v1/items", "/api/v1/manifests"))
        for method, op in ops.items()
    }


def test_every_customer_route_declares_its_problems(sqlite_client: TestClient) -> None:
    ops = _customer_operations(sqlite_client.get("/openapi.json").json())
    assert len(ops) == 8
    for (method, path), op in ops.items():
        statuses = {s for s in op["responses"] if s[0] in "45"}
        expected = set(ALWAYS)
        if "{item_id}" in path:
            expected.add("404")
        if method == "POST":
            expected |= {"409", "413"}
        if method == "DELETE" or path.endswith(".pdf"):
            expected.add("409")
        assert statuses == expected, (method, path)
        for status in statuses:
            content = op["responses"][status]["content"]
            assert list(content) == ["application/problem+json"], (method, path, status)
            assert content["application/problem+json"]["schema"]["title"] == "Problem"


def test_creating_routes_document_the_erased_account(sqlite_client: TestClient) -> None:
    ops = _customer_operations(sqlite_client.get("/openapi.json").json())
    for key in (("POST", "/api/v1/items"), ("POST", "/api/v1/manifests")):
        forbidden = ops[key]["responses"]["403"]
        assert "customer_erased" in forbidden["description"]
        examples = forbidden["content"]["application/problem+json"]["examples"]
        assert examples["customer_erased"]["value"]["rule"] == "customer_erased"
        assert (
            "idempotency_key_reused"
            in ops[key]["responses"]["409"]["content"]["application/problem+json"]["examples"]
        )


def test_manifest_body_documents_the_multipart_upload(sqlite_client: TestClient) -> None:
    ops = _customer_operations(sqlite_client.get("/openapi.json").json())
    content = ops[("POST", "/api/v1/manifests")]["requestBody"]["content"]
    assert set(content) == {"application/json", "text/csv", "multipart/form-data"}
    form = content["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert form["properties"]["file"]["format"] == "binary"


def test_unparseable_json_names_the_body(sqlite_client: TestClient, sqlite_alice: Caller) -> None:
    r = sqlite_client.post(
        "/api/v1/items",
        content=b'{"service": ',
        headers={**sqlite_alice.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["rule"]) == ("body", "json_invalid")
    latin1 = sqlite_client.post(
        "/api/v1/items",
        content='{"service": "tracked", "reference": "Ñ"}'.encode("latin-1"),
        headers={**sqlite_alice.headers, "Content-Type": "application/json"},
    )
    assert latin1.status_code == 422
    assert (latin1.json()["field"], latin1.json()["rule"]) == ("body", "json_invalid")
