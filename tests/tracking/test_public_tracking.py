"""Public tracking: caching headers, rate limits, HTML escaping, no personal data anywhere."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import parse_pre_advice
from tests.factories import ManualClock, item_payload, new_customer
from tests.tracking.conftest import auth, partner_key

MARK = "ZQXMARK"


def _marked_item() -> dict:
    data = item_payload(reference=f"{MARK}REF")
    for party in ("sender", "addressee"):
        p = data[party]
        p["name"] = f"{MARK} {party} name"
        p["address_lines"] = [f"1 {MARK} {party} street"]
        p["city"] = f"{MARK}city"
        p["email"] = f"{party}.{MARK.lower()}@example.com"
        p["phone"] = "+44 20 7946 0999" if party == "sender" else "+1 212 555 0199"
    data["contents"]["lines"][0]["description"] = f"{MARK} shirt"
    return data


def test_no_personal_data_in_any_public_response(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """Marked names, addresses, e-mails, phones and contents appear in no public response."""
    c = new_customer(node)
    [item] = pre_advise(node.ctx, c.record.id, [parse_pre_advice(_marked_item())])
    clock.advance(days=4)
    client.post("/api/v1/partner/events", json={"events": [
        {"item_id": item.id, "event_code": "EMD", "occurred_at": "2026-11-03T15:22:00-05:00",
         "office": "USJFKA"}]}, headers=auth(partner_key(node)))  # fmt: skip
    bodies = [
        client.get(f"/api/v1/tracking/{item.id}").text,
        client.get(f"/track/{item.id}").text,
        client.get("/track/RB123456785GB").text,
        client.get("/track/not-an-id").text,
    ]
    needles = [MARK, MARK.lower(), "7946 0999", "555 0199"]
    for text in bodies:
        for needle in needles:
            assert needle not in text
    assert "Arrived at the inward office of exchange" in bodies[1]


def test_etag_answers_304_and_changes_with_the_timeline(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """If-None-Match with the current ETag gives 304; a new event changes the ETag."""
    c = new_customer(node)
    [item] = pre_advise(node.ctx, c.record.id, [parse_pre_advice(item_payload())])
    first = client.get(f"/api/v1/tracking/{item.id}")
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    same = client.get(f"/api/v1/tracking/{item.id}", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    page = client.get(f"/track/{item.id}")
    assert (
        client.get(f"/track/{item.id}", headers={"If-None-Match": page.headers["etag"]}).status_code
        == 304
    )
    clock.advance(days=4)
    client.post("/api/v1/partner/events", json={"events": [
        {"item_id": item.id, "event_code": "EMD", "occurred_at": "2026-11-03T15:22:00-05:00",
         "office": "USJFKA"}]}, headers=auth(partner_key(node)))  # fmt: skip
    changed = client.get(f"/api/v1/tracking/{item.id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert json.loads(changed.text)["status"] == "arrived_in_destination"


@pytest.mark.sqlite_only
@pytest.mark.node(public_rate=1, public_burst=3)
def test_public_tracking_is_rate_limited_per_client(client: TestClient) -> None:
    """Beyond the configured burst a client gets 429 with Retry-After, on API and page."""
    codes = [client.get("/api/v1/tracking/RB123456785GB").status_code for _ in range(3)]
    assert codes == [404, 404, 404]
    limited = client.get("/track/RB123456785GB")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1


def test_html_page_escapes_and_shows_place_names(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """The page names the office (not only its code), and an odd id is escaped."""
    c = new_customer(node)
    [item] = pre_advise(node.ctx, c.record.id, [parse_pre_advice(item_payload())])
    clock.advance(days=4)
    client.post("/api/v1/partner/events", json={"events": [
        {"item_id": item.id, "event_code": "EMD", "occurred_at": "2026-11-03T15:22:00-05:00",
         "office": "USJFKA"}]}, headers=auth(partner_key(node)))  # fmt: skip
    page = client.get(f"/track/{item.id}").text
    assert "2026-11-03T15:22:00-05:00" in page
    assert "United States" in page
    assert "ISC NEW YORK NY (USPS)" in page
    hostile = client.get("/track/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert hostile.status_code == 422
    assert "<img" not in hostile.text
