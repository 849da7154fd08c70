"""POST/GET/DELETE /api/v1/items: pre-advice, idempotency, reading, listing, cancelling."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.kernel.ids import is_valid_s10
from tests.factories import DOCUMENTS_LETTER, Caller, item_payload


def post(client: TestClient, who: Caller, body: Any, **headers: str) -> Any:
    return client.post("/api/v1/items", json=body, headers={**who.headers, **headers})


def count(client: TestClient, who: Caller) -> int:
    return len(client.get("/api/v1/items?limit=200", headers=who.headers).json()["items"])


def test_pre_advice_answers_201_with_s10_id_form_and_links(
    client: TestClient, alice: Caller
) -> None:
    """A valid item is stored pre-advised with an S10 id, its customs form and links."""
    r = post(client, alice, item_payload())
    assert r.status_code == 201
    body = r.json()
    assert is_valid_s10(body["id"])
    assert body["state"] == "pre_advised"
    assert body["customs_form"] == "CN22"
    assert body["links"]["label"] == f"/api/v1/items/{body['id']}/label.pdf"
    assert r.headers["location"] == body["links"]["self"]


def test_documents_letter_needs_no_customs_form(client: TestClient, alice: Caller) -> None:
    """A letter with documents only carries no customs declaration."""
    body = post(client, alice, DOCUMENTS_LETTER).json()
    assert body["customs_form"] is None
    assert body["links"]["cn23"] is None


def test_parcel_needs_cn23(client: TestClient, alice: Caller) -> None:
    """A parcel always needs a CN23 and links to it."""
    body = post(client, alice, item_payload(service="parcel")).json()
    assert body["customs_form"] == "CN23"
    assert body["links"]["cn23"].endswith("/cn23.pdf")


def test_idempotency_key_replays_the_first_answer(client: TestClient, alice: Caller) -> None:
    """The same key and body return the first answer and create no second item."""
    first = post(client, alice, item_payload(), **{"Idempotency-Key": "order-1042-try"})
    again = post(client, alice, item_payload(), **{"Idempotency-Key": "order-1042-try"})
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert count(client, alice) == 1


def test_idempotency_key_with_another_body_is_a_conflict(client: TestClient, alice: Caller) -> None:
    """Reusing a key for a different item is a 409 problem and stores nothing."""
    post(client, alice, item_payload(), **{"Idempotency-Key": "k1"})
    r = post(client, alice, item_payload(weight_g=900), **{"Idempotency-Key": "k1"})
    assert r.status_code == 409
    assert r.json()["rule"] == "idempotency_key_reused"
    assert count(client, alice) == 1


def test_idempotency_keys_are_per_customer(client: TestClient, alice: Caller, bob: Caller) -> None:
    """Another customer's use of the same key neither replays nor conflicts."""
    a = post(client, alice, item_payload(), **{"Idempotency-Key": "same"}).json()
    b = post(client, bob, item_payload(), **{"Idempotency-Key": "same"})
    assert b.status_code == 201
    assert b.json()["id"] != a["id"]


def test_owner_reads_full_detail_with_personal_data(client: TestClient, alice: Caller) -> None:
    """GET /items/{id} shows the owner the decrypted sender, addressee and contents."""
    item = post(client, alice, item_payload()).json()
    detail = client.get(f"/api/v1/items/{item['id']}", headers=alice.headers).json()
    assert detail["addressee"]["name"] == "Bartholomew Quincey"
    assert detail["contents"]["lines"][0]["hs_code"] == "610910"
    assert detail["reference"] == "ORDER-1042"


def test_list_filters_and_pages_with_a_cursor(
    client: TestClient, alice: Caller, bob: Caller
) -> None:
    """Filters narrow the owner's list; cursors walk it without repeats; others never show."""
    for n in range(5):
        post(client, alice, item_payload(reference=f"A-{n}"))
    post(client, alice, item_payload(service="parcel", reference="P-1"))
    post(client, bob, item_payload(reference="A-1"))
    seen: list[str] = []
    url = "/api/v1/items?limit=2"
    while True:
        page = client.get(url, headers=alice.headers).json()
        seen += [i["id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"/api/v1/items?limit=2&cursor={page['next_cursor']}"
    assert len(seen) == len(set(seen)) == 6
    parcels = client.get("/api/v1/items?service=parcel", headers=alice.headers).json()["items"]
    assert [i["reference"] for i in parcels] == ["P-1"]
    by_ref = client.get("/api/v1/items?reference=A-1", headers=alice.headers).json()["items"]
    assert [i["reference"] for i in by_ref] == ["A-1"]
    assert by_ref[0]["id"] in seen
    none = client.get("/api/v1/items?destination=FR", headers=alice.headers).json()["items"]
    assert none == []
    later = client.get(
        "/api/v1/items?created_from=2999-01-01T00:00:00Z", headers=alice.headers
    ).json()["items"]
    assert later == []


def test_created_range_filters_by_pre_advice_time(client: TestClient, alice: Caller) -> None:
    """created_from/created_to take RFC 3339 with offsets; a bare date is a 422."""
    item = post(client, alice, item_payload()).json()
    created = item["created_at"]
    inside = client.get(
        f"/api/v1/items?created_from={created}&created_to=2999-01-01T01:00:00%2B01:00",
        headers=alice.headers,
    ).json()["items"]
    assert [i["id"] for i in inside] == [item["id"]]
    before = client.get(f"/api/v1/items?created_to={created}", headers=alice.headers).json()
    assert before["items"] == []
    bad = client.get("/api/v1/items?created_from=2026-11-01", headers=alice.headers)
    assert (bad.status_code, bad.json()["rule"]) == (422, "date_time")


def test_a_forged_cursor_is_a_problem(client: TestClient, alice: Caller) -> None:
    """A cursor the API did not hand out is a 422 naming the cursor rule."""
    r = client.get("/api/v1/items?cursor=not-a-cursor!", headers=alice.headers)
    assert r.status_code == 422
    assert r.json()["rule"] == "cursor"


def test_cancel_before_acceptance_then_409(client: TestClient, alice: Caller) -> None:
    """DELETE cancels a pre-advised item; a cancelled item cannot be cancelled again (409)."""
    item = post(client, alice, item_payload()).json()
    r = client.delete(f"/api/v1/items/{item['id']}", headers=alice.headers)
    assert r.status_code == 200
    assert r.json()["state"] == "cancelled"
    again = client.delete(f"/api/v1/items/{item['id']}", headers=alice.headers)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    events = client.get(f"/api/v1/items/{item['id']}/events", headers=alice.headers).json()
    assert [e["code"] for e in events["events"]] == ["PRE", "CAN"]


def _line(**changes: Any) -> dict[str, Any]:
    line = dict(item_payload()["contents"]["lines"][0])
    line.update(changes)
    return line


def _with_line(**changes: Any) -> dict[str, Any]:
    body = item_payload()
    body["contents"]["lines"] = [_line(**changes)]
    return body


def _without(key: str) -> dict[str, Any]:
    body = item_payload()
    del body["contents"]["lines"][0][key]
    return body


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown service", item_payload(service="teleport"), "service", "unknown_service"),
    ("unknown country", item_payload(addressee={**item_payload()["addressee"], "country": "XX"}),
     "addressee.country", ""),
    ("weight over service limit", item_payload(weight_g=2500), "weight_g", "service_max_weight"),
    ("lines over item weight", _with_line(net_weight_g=900), "contents.lines",
     "lines_exceed_item_weight"),
    ("missing hs code", _without("hs_code"), "contents.lines.0.hs_code", "missing"),
    ("missing origin", _without("origin_country"), "contents.lines.0.origin_country", "missing"),
    ("value 0", _with_line(value_minor=0), "contents.lines.0.value_minor", ""),
    ("vague description", _with_line(description="gift"), "contents.lines.0.description",
     "vague_description"),
    ("goods alone", _with_line(description="goods"), "contents.lines.0.description",
     "vague_description"),
    ("currency not ISO 4217", _with_line(currency="XYZ"), "contents.lines.0.currency", ""),
    ("unknown field", item_payload(colour="red"), "colour", "extra_forbidden"),
    ("wrong type", item_payload(weight_g="850"), "weight_g", "int_type"),
    ("overlong string", item_payload(reference="R" * 36), "reference", "string_too_long"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "field", "rule"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_problem_and_stores_nothing(
    client: TestClient, alice: Caller, case: str, body: dict[str, Any], field: str, rule: str
) -> None:
    """Each kind of bad input gets a 422 problem naming the field and rule; nothing is stored."""
    r = post(client, alice, body)
    assert r.status_code == 422, case
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    fields = {e["field"]: e["rule"] for e in problem["errors"]}
    assert field in fields, fields
    if rule:
        assert fields[field] == rule
    assert count(client, alice) == 0
