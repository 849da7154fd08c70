"""The public pages as a person uses them: typed numbers, plain words, headlines, local
times, the advisory of a held item and the service status at a glance."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.incidents.app.holds import place_hold
from postex.kernel.zones import zone_label
from postex.sites.app.acceptance import Scan, accept
from tests.factories import ManualClock, new_customer, new_items, staff
from tests.tracking.conftest import auth, partner_key

ADVISORY = "Parcels with goods to the United States wait at Heathrow while US customs is down."


def _item(node: Container) -> str:
    return new_items(node, new_customer(node).record.id)[0].id


def test_small_letters_and_spaces_move_to_the_numbers_own_page(
    node: Container, client: TestClient
) -> None:
    item = _item(node)
    typed = f"{item[:2].lower()} {item[2:5]} {item[5:8]} {item[8:11]} {item[11:].lower()}"
    r = client.get(f"/track/{typed}", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == f"/track/{item}"
    r = client.get("/track", params={"id": typed}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/track/{item}"
    page = client.get(f"/track/{item}")
    assert page.status_code == 200 and item in page.text


def test_a_wrong_check_digit_is_answered_in_plain_words(client: TestClient) -> None:
    r = client.get("/track", params={"id": "rb 123456784 gb"})
    assert r.status_code == 422
    assert "check digit" in r.text and "should be 5" in r.text and "RB123456784GB" in r.text
    assert 'aria-invalid="true"' in r.text  # the box says which field is wrong
    short = client.get("/track/RB12345")
    assert short.status_code == 422 and "13 characters" in short.text


def test_an_unknown_number_says_so_without_a_stack_trace(client: TestClient) -> None:
    r = client.get("/track/RB123456785GB")
    assert r.status_code == 404
    assert "We have no item RB123456785GB" in r.text and "Traceback" not in r.text


def test_the_headline_says_what_the_status_means(node: Container, client: TestClient) -> None:
    item = _item(node)
    page = client.get(f"/track/{item}").text
    assert '<p class="status" id="status">Pre-advised</p>' in page
    assert "has not been handed to us yet" in page


def test_times_are_the_places_with_its_zone_and_the_readers_by_script(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    item = _item(node)
    clock.advance(days=2)
    arrived = (clock.now() - timedelta(hours=1)).astimezone(ZoneInfo("America/New_York"))
    stamp = arrived.replace(microsecond=0).isoformat()
    r = client.post("/api/v1/partner/events", json={"events": [
        {"item_id": item, "event_code": "EMD", "occurred_at": stamp, "office": "USJFKA"}]},
        headers=auth(partner_key(node)))  # fmt: skip
    assert r.status_code == 200, r.text
    page = client.get(f"/track/{item}").text
    shown = f"{arrived.day} {arrived:%b %Y, %H:%M} {arrived.tzname()}"  # EST or EDT
    assert shown in page  # New York's time, with New York's zone
    assert f'data-utc="{stamp}"' in page  # the reader's own time is drawn from it by the script
    london = (
        "GMT" if clock.now().astimezone(ZoneInfo("Europe/London")).dst() == timedelta(0) else "BST"
    )
    assert page.index(shown) < page.index(london)  # newest first; the pre-advice was in London


def test_a_held_item_shows_the_advisory_that_explains_it(
    node: Container, client: TestClient
) -> None:
    clerk, ops = staff(node, "clerk"), staff(node, "ops")
    [record] = new_items(node, new_customer(node).record.id)
    accept(node.site_ops, clerk.principal, "GBLALA", [Scan(record.id, record.weight_g)])
    place_hold(node.ctx, ops.principal, {
        "scope": {"destinations": [record.destination]}, "reason": "customs outage",
        "advisory": ADVISORY, "emergency": True,
    })  # fmt: skip
    page = client.get(f"/track/{record.id}").text
    assert '<p class="status" id="status">Held</p>' in page
    assert ADVISORY in page
    assert "Exception" not in page and "customs outage" not in page  # the reason is internal


def test_the_landing_page_has_the_box_and_the_status_at_a_glance(
    node: Container, client: TestClient
) -> None:
    calm = client.get("/")
    assert calm.status_code == 200
    assert 'action="/track"' in calm.text and "running normally" in calm.text
    place_hold(node.ctx, staff(node, "ops").principal, {
        "scope": {"destinations": ["US"], "goods_only": True}, "reason": "outage",
        "advisory": ADVISORY, "emergency": True,
    })  # fmt: skip
    stormy = client.get("/").text
    assert "disrupted" in stormy and ADVISORY in stormy and "United States" in stormy


def test_the_pages_allow_only_the_nodes_own_scripts_and_styles(client: TestClient) -> None:
    csp = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert client.get("/static/local-time.js").status_code == 200
    assert client.get("/static/public.css").status_code == 200


@pytest.mark.parametrize(
    ("country", "moment", "label"),
    [
        ("US", "2026-12-04T09:02:00-05:00", "EST"),
        ("GB", "2026-12-04T09:02:00+00:00", "GMT"),
        ("GB", "2026-07-04T09:02:00+01:00", "BST"),
        ("DE", "2026-12-04T09:02:00+01:00", "CET"),
        ("AE", "2026-12-04T09:02:00+04:00", "UTC+04:00"),  # the zone has no abbreviation
        ("FR", "2026-12-04T09:02:00+05:00", "UTC+05:00"),  # no French zone has that offset
        (None, "2026-12-04T09:02:00-03:30", "UTC−03:30"),
    ],
)
def test_zone_labels(country: str | None, moment: str, label: str) -> None:
    assert zone_label(country, datetime.fromisoformat(moment)) == label
