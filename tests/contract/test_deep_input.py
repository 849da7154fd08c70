"""Input nested past what the JSON decoder follows, or not what its media type says: 422.

Regressions found by fuzzing: ``POST /api/v1/manifests`` and ``POST /api/v1/partner/events``
decode their bodies themselves, and JSON nested deeper than Python's recursion limit raised
RecursionError there, a 500. A multipart upload that is not multipart was a bare 400
without field or rule. (Cursors are JSON too, but at most 200 characters.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.server import create_app
from tests.factories import make_caller, partner

DEEP = 100_000  # far past the interpreter's recursion limit


@pytest.fixture
def api(node: Container) -> Iterator[TestClient]:
    with TestClient(create_app(node), raise_server_exceptions=False) as c:
        yield c


def _head(node: Container) -> int:
    return len(execute_raw(node.engine, "SELECT seq FROM events", []))


def assert_refused(r: object, field: str, rule: str) -> None:
    status = getattr(r, "status_code")  # noqa: B009
    body = r.json()  # type: ignore[attr-defined]
    assert status == 422, body
    assert (body["field"], body["rule"]) == (field, rule), body
    assert r.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body",
    [b"[" * DEEP, b"[" * DEEP + b"]" * DEEP, b'{"a":' * DEEP, b'{"events":' + b"[" * DEEP],
    ids=["open", "closed", "objects", "inside"],
)
@pytest.mark.sqlite_only
@pytest.mark.parametrize("route", ["manifests", "partner/events"])
def test_deeply_nested_json_bodies_are_refused(
    node: Container, api: TestClient, route: str, body: bytes
) -> None:
    who = make_caller(node, "Deep Ltd").headers
    if route == "partner/events":
        who = partner(node, offices=("USJFKA",)).headers
    before = _head(node)
    r = api.post(
        f"/api/v1/{route}", content=body, headers={**who, "Content-Type": "application/json"}
    )
    assert_refused(r, "body", "json")
    assert _head(node) == before  # nothing written


@pytest.mark.sqlite_only
def test_a_multipart_upload_that_is_not_multipart_is_refused(
    node: Container, api: TestClient
) -> None:
    who = partner(node, offices=("USJFKA",)).headers
    r = api.post(
        "/api/v1/partner/events",
        content=b'{"events": []}',
        headers={**who, "Content-Type": "multipart/form-data; boundary=zz"},
    )
    assert_refused(r, "body", "multipart")
