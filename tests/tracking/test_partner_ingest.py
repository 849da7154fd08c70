"""Partner event ingest: bad rows, partial acceptance, scoping, quarantine and attach."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.kernel.ids import S10
from postex.tracking.app.partner_events import MAX_BATCH
from tests.factories import ManualClock, item_payload, new_customer, new_items
from tests.tracking.conftest import auth, partner_key, staff_token

GOOD_TIME = "2026-11-03T15:22:00-05:00"
URL = "/api/v1/partner/events"


def _ev(item_id: str, code: str = "EMD", at: str = GOOD_TIME, office: str = "USJFKA") -> dict:
    return {"item_id": item_id, "event_code": code, "occurred_at": at, "office": office}


def _timeline(client: TestClient, item_id: str) -> list[str]:
    return [e["code"] for e in client.get(f"/api/v1/tracking/{item_id}").json()["events"]]


def test_each_bad_row_is_named_and_nothing_is_stored(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """Unknown code, future time, malformed S10, bad office: 422 naming each row; no writes."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    key = partner_key(node)
    clock.advance(days=4)
    head = node.store.head(node.ctx.site)
    batch = [
        _ev(item.id),
        _ev(item.id, code="ZZZ"),
        _ev(item.id, code="EMI", at="2027-01-01T00:00:00+00:00"),
        _ev("RB123456786US"),
        _ev(item.id, code="EMG", office="nope"),
        _ev(item.id, code="EMA"),
        _ev(item.id, code="EMF", at="2026-11-03 10:00"),
    ]
    r = client.post(URL, json={"events": batch}, headers=auth(key))
    assert r.status_code == 422
    rules = {(e["index"], e["rule"]) for e in r.json()["errors"]}
    assert rules == {
        (1, "unknown_event_code"),
        (2, "in_future"),
        (3, "check_digit"),
        (4, "impc_format"),
        (5, "origin_event"),
        (6, "timestamp"),
    }
    assert node.store.head(node.ctx.site) == head
    assert _timeline(client, item.id) == ["PRE"]


def test_partial_stores_good_rows_and_reports_bad_ones(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """With partial=true the good rows are stored and each bad row is reported."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    key = partner_key(node)
    clock.advance(days=4)
    batch = [_ev(item.id), _ev(item.id, code="ZZZ")]
    r = client.post(URL, params={"partial": "true"}, json={"events": batch}, headers=auth(key))
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 1
    assert [p["index"] for p in body["rejected"]] == [1]
    assert _timeline(client, item.id) == ["PRE", "EMD"]


def test_events_before_pre_advice_are_impossible(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """An event earlier than the item's pre-advice is refused with before_pre_advice."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    key = partner_key(node)
    clock.advance(days=4)
    r = client.post(
        URL, json={"events": [_ev(item.id, at="2026-10-01T10:00:00+00:00")]}, headers=auth(key)
    )
    assert r.status_code == 422
    assert r.json()["rule"] == "before_pre_advice"


def test_a_partner_cannot_send_for_another_posts_items(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """Canada Post's key is refused for an item routed to the United States."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    canada = partner_key(node, ("CAYTOA",), "Canada Post")
    clock.advance(days=4)
    r = client.post(URL, json={"events": [_ev(item.id, office="CAYTOA")]}, headers=auth(canada))
    assert r.status_code == 422
    assert r.json()["rule"] == "not_routed_to_you"
    assert _timeline(client, item.id) == ["PRE"]


def test_customer_keys_cannot_send_partner_events(node: Container, client: TestClient) -> None:
    """Only partner keys may post tracking events (403 for a customer's key)."""
    customer = new_customer(node)
    r = client.post(URL, json={"events": []}, headers=auth(customer.api_key))
    assert r.status_code == 403


def test_oversize_and_broken_batches_are_refused_whole(node: Container, client: TestClient) -> None:
    """More than MAX_BATCH events, a bad CSV header or non-UTF-8 bytes: one clear problem."""
    key = partner_key(node)
    big = [_ev("RB123456785GB")] * (MAX_BATCH + 1)
    r = client.post(URL, json={"events": big}, headers=auth(key))
    assert (r.status_code, r.json()["rule"]) == (422, "batch_too_large")
    csv = {**auth(key), "Content-Type": "text/csv"}
    r = client.post(URL, content=b"item,code\nx,y\n", headers=csv)
    assert (r.status_code, r.json()["rule"]) == (422, "header")
    r = client.post(URL, content=b"\xff\xfe\x00garbage", headers=csv)
    assert (r.status_code, r.json()["rule"]) == (422, "encoding")
    r = client.post(
        URL, content=b"{not json", headers={**auth(key), "Content-Type": "application/json"}
    )
    assert (r.status_code, r.json()["rule"]) == (422, "json")


def test_csv_rows_report_their_line_numbers(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """A bad CSV row is reported with its 1-based line (the header is line 1)."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    key = partner_key(node)
    clock.advance(days=4)
    data = (
        "item_id,event_code,occurred_at,office,reason_code,next_office\n"
        f"{item.id},EMD,{GOOD_TIME},USJFKA,,\n"
        f"{item.id},XXX,{GOOD_TIME},USJFKA,,\n"
    ).encode()
    files = {"file": ("events.csv", data, "text/csv")}
    r = client.post(URL, params={"partial": "true"}, files=files, headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    assert [p["line"] for p in r.json()["rejected"]] == [3]


def test_unknown_items_wait_in_quarantine_and_attach_when_pre_advised(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """An event for an item not yet known is quarantined, listed for ops, and joins the
    timeline (moving no state the machine refuses) when the item is pre-advised."""
    key = partner_key(node)
    future_id = str(S10("LA", 10_000_000, "GB"))  # the first tracked id this node issues
    clock.advance(hours=1)
    r = client.post(
        URL, json={"events": [_ev(future_id, at="2026-11-02T09:55:00+00:00")]}, headers=auth(key)
    )
    assert r.json()["quarantined"] == 1
    ops = staff_token(node)
    waiting = client.get("/api/v1/ops/quarantine", headers=auth(ops)).json()["events"]
    assert [(q["item_id"], q["code"]) for q in waiting] == [(future_id, "EMD")]
    customer = new_customer(node)
    assert client.get("/api/v1/ops/quarantine", headers=auth(customer.api_key)).status_code == 403
    clock.advance(minutes=1)
    [item] = new_items(node, customer.record.id)
    assert item.id == future_id
    assert _timeline(client, item.id) == ["EMD", "PRE"]  # event time order: 09:55, 10:01
    assert client.get("/api/v1/ops/quarantine", headers=auth(ops)).json()["events"] == []


def test_quarantined_event_of_the_wrong_post_is_refused_on_arrival(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """A quarantined event from a post the item is not routed to never joins its timeline."""
    canada = partner_key(node, ("CAYTOA",), "Canada Post")
    future_id = str(S10("LA", 10_000_000, "GB"))
    clock.advance(hours=1)
    client.post(URL, json={"events": [_ev(future_id, office="CAYTOA",
                                            at="2026-11-02T09:55:00+00:00")]},
                 headers=auth(canada))  # fmt: skip
    clock.advance(minutes=1)
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    assert _timeline(client, item.id) == ["PRE"]
    ops = staff_token(node)
    refused = client.get(
        "/api/v1/ops/quarantine", params={"status": "refused"}, headers=auth(ops)
    ).json()["events"]
    assert len(refused) == 1


def test_partner_events_move_states_only_where_the_machine_allows(
    node: Container, clock: ManualClock, client: TestClient
) -> None:
    """A despatched-equivalent move is not forced: a pre-advised item stays pre-advised,
    while delivery of an in-transit item makes it delivered."""
    from postex.items.sql.core import set_state

    customer = new_customer(node)
    [a, b] = new_items(node, customer.record.id, 2, **{"service": "tracked"})
    with node.store.write(node.ctx.site) as uow:
        set_state(uow.conn, [("in_transit", None, "2026-11-02T10:00:00.000000Z", b.id)])  # type: ignore[attr-defined]
    key = partner_key(node)
    clock.advance(days=4)
    events = [_ev(i, code="EMI") for i in (a.id, b.id)]
    client.post(URL, json={"events": events}, headers=auth(key))
    states = {i: client.get(f"/api/v1/tracking/{i}").json()["status"] for i in (a.id, b.id)}
    assert states == {a.id: "delivered", b.id: "delivered"}
    with node.store.read() as uow:
        from postex.items.app.preadvice import ItemRepository

        repo = uow.repo(ItemRepository)
        assert repo.get_any(a.id).state == "pre_advised"  # type: ignore[union-attr]
        assert repo.get_any(b.id).state == "delivered"  # type: ignore[union-attr]
    assert item_payload()["service"] == "tracked"


def test_documented_example_journey_file_is_accepted(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """docs/examples/emsevt-partner-journey.csv uploads as documented: six events, delivered."""
    from pathlib import Path

    clock.t = clock.t.replace(year=2026, month=3, day=1)
    customer = new_customer(node)
    items = new_items(node, customer.record.id, 2)
    assert items[1].id == "LA100000017GB"
    clock.advance(days=5)
    example = Path(__file__).parents[2] / "docs" / "examples" / "emsevt-partner-journey.csv"
    files = {"file": ("journey.csv", example.read_bytes(), "text/csv")}
    r = client.post(URL, files=files, headers=auth(partner_key(node)))
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 6
    assert client.get("/api/v1/tracking/LA100000017GB").json()["status"] == "delivered"


def test_rebuild_after_quarantine_and_attach_equals_live(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """A quarantined event attached later rebuilds to the same projections as live, even
    though rebuild replays both events in one batch."""
    key = partner_key(node)
    future_id = str(S10("LA", 10_000_000, "GB"))
    clock.advance(hours=1)
    client.post(
        URL, json={"events": [_ev(future_id, at="2026-11-02T09:55:00+00:00")]}, headers=auth(key)
    )
    clock.advance(minutes=1)
    customer = new_customer(node)
    new_items(node, customer.record.id)
    live = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live


def test_quarantined_event_far_before_the_pre_advice_is_refused_on_arrival(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """The before-pre-advice rule also holds for an event that waited in quarantine."""
    key = partner_key(node)
    future_id = str(S10("LA", 10_000_000, "GB"))
    clock.advance(hours=1)
    client.post(
        URL, json={"events": [_ev(future_id, at="2026-11-02T09:10:00+00:00")]}, headers=auth(key)
    )
    clock.advance(minutes=1)
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    assert _timeline(client, item.id) == ["PRE"]
    ops = staff_token(node)
    refused = client.get(
        "/api/v1/ops/quarantine", params={"status": "refused"}, headers=auth(ops)
    ).json()["events"]
    assert [q["item_id"] for q in refused] == [future_id]
