"""The documentation stays true: every route is documented, and docs/api.md's worked
example (request, answer, problem) is what the server really does."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from tests.factories import new_customer

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"
DOCS = [ROOT / "README.md", *(ROOT / "docs" / n for n in ("api.md", "operations.md", "edi.md"))]
SITE = "/api/v1/sites/{site}"


def _route_pattern(path: str) -> re.Pattern[str]:
    """How the docs may name ``path``: in full, and a site route also as ``…/rest``; any
    name in braces stands for a path parameter."""
    if path.startswith(SITE + "/"):
        head, rest = r"(?:/api/v1/sites/\{[^}/]+\}|…)", path[len(SITE) :]
    else:
        head, rest = "", path
    body = "".join(
        r"\{[^}/]+\}" if part.startswith("{") else re.escape(part)
        for part in re.split(r"(\{[^}]+\})", rest)
    )
    return re.compile(head + body + r"(?![\w/{])")


@pytest.fixture(scope="module")
def doc_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in DOCS)


def _paths(client: TestClient) -> list[str]:
    return sorted(client.get("/openapi.json").json()["paths"])


def test_route_patterns_accept_the_doc_forms_and_refuse_others() -> None:
    """The matcher itself: full and shortened forms match, a longer or other path does not."""
    close = _route_pattern("/api/v1/sites/{site}/receptacles/{rid}/close")
    assert close.search("`POST …/receptacles/{id}/close {")
    assert close.search("/api/v1/sites/GBLALA/receptacles/{id}/close") is None  # a value, not {…}
    assert close.search("/api/v1/sites/{site}/receptacles/{rid}/close`")
    assert close.search("…/receptacles/{id}/closed") is None
    items = _route_pattern("/api/v1/items/{item_id}")
    assert items.search("`GET /api/v1/items/{id}` |")
    assert items.search("`GET /api/v1/items/{id}/events`") is None
    assert items.search("GET /items/{id}") is None


@pytest.mark.sqlite_only
def test_every_route_is_named_in_the_docs(client: TestClient, doc_text: str) -> None:
    """Each path of the OpenAPI description appears in README.md or docs/*.md, so a new route
    cannot ship undocumented."""
    missing = [p for p in _paths(client) if not _route_pattern(p).search(doc_text)]
    assert missing == [], f"document these routes (docs/api.md, 'Other routes'): {missing}"


@pytest.mark.sqlite_only
def test_every_customer_route_is_in_api_md(client: TestClient) -> None:
    """The customer API's routes (items, manifests, webhooks) are in docs/api.md in full."""
    text = API_MD.read_text(encoding="utf-8")
    customer = [
        p
        for p in _paths(client)
        if p.startswith(("/api/v1/items", "/api/v1/manifests", "/api/v1/webhooks"))
    ]
    assert len(customer) >= 10
    assert [p for p in customer if not _route_pattern(p).search(text)] == []


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def _documented_request() -> dict[str, Any]:
    """The body of section 2's `curl -d @- <<'JSON'` example."""
    text = API_MD.read_text(encoding="utf-8")
    match = re.search(r"<<'JSON' \| jq\n(.*?)\nJSON\n", text, flags=re.S)
    assert match, "docs/api.md section 2 lost its request example"
    body: dict[str, Any] = json.loads(match.group(1))
    return body


def _documented_json(after: str) -> dict[str, Any]:
    """The first ```json block of docs/api.md after the line containing ``after``."""
    text = API_MD.read_text(encoding="utf-8")
    start = text.index(after)
    block: dict[str, Any] = json.loads(_blocks(text[start:], "json")[0])
    return block


def _shape(value: Any) -> Any:
    """Keys all the way down (values dropped), to compare a documented answer's shape."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return None


def test_the_documented_pre_advice_answers_as_documented(
    client: TestClient, node: Container
) -> None:
    """Section 2 sent as written gets `201`, `Location` and exactly the documented fields."""
    key = new_customer(node).api_key
    r = client.post(
        "/api/v1/items",
        json=_documented_request(),
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "order-1042"},
    )
    assert r.status_code == 201, r.json()
    documented = _documented_json("Answer `201 Created`")
    got = r.json()
    assert r.headers["location"] == got["links"]["self"]
    assert _shape(got) == _shape(documented)
    for field in ("state", "service", "destination", "customs_form", "weight_g", "reference"):
        assert got[field] == documented[field], field
    assert got["id"][:2] == documented["id"][:2] and got["id"].endswith("GB")
    assert got["links"]["cn23"] is None


def test_the_documented_problem_is_what_a_vague_description_gets(
    client: TestClient, node: Container
) -> None:
    """Section 8's problem example is the real answer to its case, field for field."""
    key = new_customer(node).api_key
    body = _documented_request()
    body["contents"]["lines"][0]["description"] = "gift"
    r = client.post("/api/v1/items", json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    documented = _documented_json("Every error is `application/problem+json`")
    got = r.json()
    assert set(got) == set(documented)
    for field in ("type", "title", "status", "detail", "instance", "field", "rule", "value"):
        assert got[field] == documented[field], field
    assert got["errors"] == documented["errors"]


@pytest.mark.sqlite_only
def test_documented_site_pages_match_the_schema(client: TestClient) -> None:
    """The page shape docs/api.md gives for site lists is the schema's."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    text = API_MD.read_text(encoding="utf-8")
    assert '`{"receptacles": [...], "next_cursor": "…", "links": {"self": "…", "next": "…"}}`' in (
        text.replace("\n", " ")
    )
    for name, items in (("ReceptaclePage", "receptacles"), ("DespatchPage", "despatches")):
        assert set(schemas[name]["properties"]) == {items, "next_cursor", "links"}
