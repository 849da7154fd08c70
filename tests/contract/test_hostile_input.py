"""Input that used to break the flow (issue 15): each reproduction is a 4xx now, and no
request input ever reaches the log.

- a lone surrogate (``"\\ud800"``) in a JSON body with another field missing was a 500, and
  the log then held the addressee's name, street, phone and e-mail in clear;
- a chunked body over 32 MiB was a 422 ``json_invalid``, not a 413;
- ~950 levels of nesting inside an item field of a manifest was a 500 (RecursionError while
  echoing the value).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.server import MAX_BODY_BYTES, create_app
from tests.factories import item_payload, make_caller, partner

MARKS = {
    "name": "Zebulon Markwright",
    "street": "77 Markstreet Row",
    "phone": "+1 212 555 7171",
    "email": "zebulon.mark@example.org",
    "city": "Markville",
}


CSV_HEADER = "reference,service,weight_g,sender_name,addressee_name,contents_category\n"


@pytest.fixture
def api(node: Container) -> Iterator[TestClient]:
    with TestClient(create_app(node), raise_server_exceptions=False) as c:
        yield c


def _marked_item(**changes: Any) -> dict[str, Any]:
    body = item_payload(**changes)
    body["addressee"].update(
        name=MARKS["name"] + " \ud800",
        address_lines=[MARKS["street"]],
        phone=MARKS["phone"],
        email=MARKS["email"],
        city=MARKS["city"],
    )
    return body


def _post_json(api: TestClient, url: str, body: object, headers: dict[str, str]) -> Any:
    nested: dict[str, str] = {}

    def text_of(value: object) -> str:
        """A `Nested` value stands in the body as a placeholder string until its text
        replaces it."""
        if not isinstance(value, Nested):
            raise TypeError(f"{type(value).__name__} is not JSON")
        placeholder = f"nested {len(nested)}"
        nested[json.dumps(placeholder)] = value.text()
        return placeholder

    raw = json.dumps(body, default=text_of)  # ASCII: the lone surrogate travels as "\ud800"
    for placeholder, text in nested.items():
        raw = raw.replace(placeholder, text, 1)
    return api.post(url, content=raw, headers={**headers, "Content-Type": "application/json"})


@pytest.mark.sqlite_only
def test_a_hostile_run_is_all_4xx_and_logs_no_personal_data(
    node: Container, api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Surrogates with missing fields, broken JSON, deep nesting, a broken CSV and bad
    partner rows, all carrying marked personal data: every answer is a 4xx problem and no
    mark appears in any log record (any logger, DEBUG and up, with tracebacks)."""
    caplog.set_level(logging.DEBUG)
    who = make_caller(node, "Hostile Ltd").headers
    missing = _marked_item()
    del missing["service"]
    answers = [
        _post_json(api, "/api/v1/items", missing, who),
        _post_json(api, "/api/v1/items", _marked_item(), who),
        _post_json(api, "/api/v1/items", {**_marked_item(), "\ud800": MARKS["name"]}, who),
        _post_json(api, "/api/v1/manifests", [missing, _marked_item()], who),
        api.post(
            "/api/v1/items",
            content=json.dumps(_marked_item())[:-3].encode(),
            headers={**who, "Content-Type": "application/json"},
        ),
        api.post(
            "/api/v1/manifests",
            content=f"{CSV_HEADER}R1,tracked,x,{MARKS['name']},=HYPERLINK({MARKS['street']}),x\n",
            headers={**who, "Content-Type": "text/csv"},
        ),
        _post_json(
            api,
            "/api/v1/manifests",
            [{**item_payload(), "weight_g": _nested(950, MARKS["name"])}],
            who,
        ),
        _post_json(
            api,
            "/api/v1/partner/events",
            {"events": [{"item_id": MARKS["name"], "office": MARKS["street"]}]},
            partner(node, offices=("USJFKA",)).headers,
        ),
    ]
    for r in answers:
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json"), r.text[:300]
    logged = "\n".join(
        f"{rec.name} {rec.getMessage()} {logging.Formatter().formatException(rec.exc_info)}"
        if rec.exc_info
        else f"{rec.name} {rec.getMessage()}"
        for rec in caplog.records
    )
    logged += caplog.text
    for mark in MARKS.values():
        assert mark not in logged, f"{mark!r} was logged"


@dataclass(frozen=True)
class Nested:
    """``leaf`` inside ``depth`` lists, written out as the text json.dumps would give it.
    json.dumps itself recurses once per level: 950 levels would meet the interpreter's
    recursion limit in the test before the request is sent (sooner on a pytest-xdist
    worker, whose stack starts deeper)."""

    depth: int
    leaf: object

    def text(self) -> str:
        return "[" * self.depth + json.dumps(self.leaf) + "]" * self.depth


def _nested(depth: int, leaf: object) -> Nested:
    return Nested(depth, leaf)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("depth", [40, 950])
def test_deep_nesting_inside_an_item_field_of_a_manifest_is_a_422(
    node: Container, api: TestClient, depth: int
) -> None:
    """A field nested far deeper than any item is refused by a depth limit, by name."""
    who = make_caller(node, "Deep Field Ltd").headers
    body = [{**item_payload(), "weight_g": _nested(depth, 1)}]
    r = _post_json(api, "/api/v1/manifests", body, who)
    assert r.status_code == 422, r.text[:300]
    problem = r.json()
    assert (problem["field"], problem["rule"]) == ("body", "json_depth"), problem


@pytest.mark.sqlite_only
def test_an_echoed_value_is_shallow_and_short(node: Container, api: TestClient) -> None:
    """A nested value just inside the depth limit is named, not rendered."""
    who = make_caller(node, "Shallow Ltd").headers
    body = [{**item_payload(), "weight_g": _nested(10, "x" * 500)}]
    r = _post_json(api, "/api/v1/manifests", body, who)
    assert r.status_code == 422, r.text[:300]
    [error] = [e for e in r.json()["errors"] if e["field"] == "weight_g"]
    assert error["rule"] == "type"
    assert len(json.dumps(error["value"])) < 200


def _chunks(total: int, piece: bytes = b"0," * 32_768) -> Iterator[bytes]:
    yield b"["
    sent = 1
    while sent < total:
        yield piece
        sent += len(piece)
    yield b"0]"


@pytest.mark.sqlite_only
@pytest.mark.parametrize("route", ["items", "manifests", "partner/events"])
def test_a_chunked_body_over_the_limit_is_a_413(
    node: Container, api: TestClient, route: str
) -> None:
    """No Content-Length, 32 MiB + 1 MiB streamed: 413, rule max_body_bytes."""
    who = make_caller(node, "Chunky Ltd").headers
    if route == "partner/events":
        who = partner(node, offices=("USJFKA",)).headers
    r = api.post(
        f"/api/v1/{route}",
        content=_chunks(MAX_BODY_BYTES + 1024 * 1024),
        headers={**who, "Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text[:300]
    assert r.json()["rule"] == "max_body_bytes"
