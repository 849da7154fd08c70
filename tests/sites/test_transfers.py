"""Transfers between sites: a US item accepted at Gatwick (whose route leaves from
Heathrow) is sent to Heathrow (EMK at Gatwick), scanned in there (EMB at Heathrow) and
bagged there; refusals write nothing; tracking and the audit trail show the transfer.

One node plays both sites (each writes its own log), as the fan-out tests show a node
holds every other node's log and applies it with the same projections.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.errors import HeldError, InvalidStateError, ValidationError
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from postex.sites.app.returns import return_to_sender
from postex.sites.app.routing import which_bag
from postex.sites.app.transfers import receive, transfer_out
from postex.tracking.app.public import tracking_view
from tests.factories import SERIES, Staff, make_caller, new_items, staff

GATWICK, HEATHROW = "GBLGWA", "GBLALA"


def _snapshot(node: Container) -> tuple[Any, ...]:
    heads = execute_raw(node.engine, "SELECT site, seq FROM heads ORDER BY site")
    return tuple(heads), node.rebuilder.projection_digest()


def _where(node: Container, item_id: str) -> tuple[Any, ...]:
    rows = execute_raw(
        node.engine,
        "SELECT i.state, h.site, h.transfer_to FROM items i JOIN item_handling h"
        f" ON h.item_id = i.id WHERE i.id = '{item_id}'",
    )
    return tuple(rows[0])


def _rules(exc: ValidationError) -> list[str]:
    return [e.rule for e in exc.errors]


def _clerks(node: Container) -> tuple[Staff, Staff]:
    return staff(node, "clerk", GATWICK, "clerk.gatwick"), staff(node, "clerk", HEATHROW)


def test_accept_at_gatwick_transfer_receive_and_bag_at_heathrow(
    node: Container, client: TestClient
) -> None:
    gatwick, heathrow = _clerks(node)
    ops = node.site_ops
    caller = make_caller(node, "transfer customer")
    item = new_items(node, caller.id, 1)[0]
    accept(ops, gatwick.principal, GATWICK, [Scan(item.id, item.weight_g)])
    advice = which_bag(ops, gatwick.principal, GATWICK, item.id)
    assert (advice.leaves_here, advice.origin) == (False, HEATHROW)
    # Gatwick cannot open a bag for the series: the answer says where it leaves from.
    with pytest.raises(ValidationError) as no_bag:
        rcp.open_receptacle(ops, gatwick.principal, GATWICK, **SERIES)
    assert _rules(no_bag.value) == ["transfer_to_site"]
    assert HEATHROW in no_bag.value.errors[0].message
    # Heathrow cannot bag it before it arrives.
    bag = rcp.open_receptacle(ops, heathrow.principal, HEATHROW, **SERIES)
    with pytest.raises(ValidationError) as early:
        rcp.add_items(ops, heathrow.principal, HEATHROW, bag.id, [item.id])
    assert _rules(early.value) == ["not_at_site"]

    url = f"/api/v1/sites/{GATWICK}/transfers"
    sent = client.post(url, json={"to_site": HEATHROW, "item_ids": [item.id]},
                       headers=gatwick.headers)  # fmt: skip
    assert sent.status_code == 201, sent.text
    assert sent.json()["transfers"] == [
        {"item_id": item.id, "from_site": GATWICK, "to_site": HEATHROW, "event": "EMK"}
    ]
    assert _where(node, item.id) == ("accepted", GATWICK, HEATHROW)
    # Travelling: neither site bags it.
    with pytest.raises(ValidationError) as travelling:
        rcp.add_items(ops, heathrow.principal, HEATHROW, bag.id, [item.id])
    assert "in_transfer" in str(_rules(travelling.value))

    got = client.post(f"/api/v1/sites/{HEATHROW}/transfers/received",
                      json={"item_ids": [item.id]}, headers=heathrow.headers)  # fmt: skip
    assert got.status_code == 201, got.text
    assert got.json()["transfers"][0]["event"] == "EMB"
    assert _where(node, item.id) == ("accepted", HEATHROW, None)
    done = rcp.add_items(ops, heathrow.principal, HEATHROW, bag.id, [item.id])
    assert done.item_count == 1

    # Tracking: public and customer lists show departure from Gatwick, arrival at Heathrow.
    events = tracking_view(node.ctx, item.id).tracking.events
    assert [e.code for e in events][-2:] == ["EMK", "EMB"]
    assert [e.place for e in events][-2:] == ["GATWICK AMU", "LANGLEY HWDC"]
    public = client.get(f"/api/v1/tracking/{item.id}").json()
    assert "EMK" in str(public) and "EMB" in str(public)
    mine = client.get(f"/api/v1/items/{item.id}/events", headers=caller.headers)
    assert mine.status_code == 200, mine.text
    assert [e["code"] for e in mine.json()["events"]][-2:] == ["EMK", "EMB"]
    # Audit: both steps, by whom and where.
    actions = execute_raw(
        node.engine,
        "SELECT site, type FROM events WHERE type IN"
        " ('item.transferred_out.v1', 'item.transfer_received.v1') ORDER BY recorded_at, seq",
    )
    assert actions == [
        (GATWICK, "item.transferred_out.v1"), (HEATHROW, "item.transfer_received.v1")
    ]  # fmt: skip
    auditor = staff(node, "auditor", None)
    trail = client.get("/api/v1/audit?action=items.transfer*", headers=auditor.headers)
    assert trail.status_code == 200, trail.text
    got_actions = {(e["site"], e["action"]) for e in trail.json()["entries"]}
    assert got_actions == {(GATWICK, "items.transferred_out"),
                           (HEATHROW, "items.transfer_received")}  # fmt: skip

    live = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live
    assert _where(node, item.id) == ("in_receptacle", HEATHROW, None)


def test_refusals_write_nothing(node: Container, client: TestClient) -> None:
    gatwick, heathrow = _clerks(node)
    ops = node.site_ops
    caller = make_caller(node, "refused customer")
    held, never_sent, fine = new_items(node, caller.id, 3)
    accept(ops, gatwick.principal, GATWICK,
           [Scan(i.id, i.weight_g) for i in (held, never_sent, fine)])  # fmt: skip
    execute_raw(node.engine, "UPDATE items SET state = 'held', held_from = 'accepted'"
                f" WHERE id = '{held.id}'")  # fmt: skip
    before = _snapshot(node)
    with pytest.raises(HeldError):
        transfer_out(ops, gatwick.principal, GATWICK, HEATHROW, [held.id])
    with pytest.raises(ValidationError) as not_sent:
        receive(ops, heathrow.principal, HEATHROW, [never_sent.id])
    assert "not_sent_here" in str(_rules(not_sent.value))
    bag = rcp.open_receptacle(ops, heathrow.principal, HEATHROW, **SERIES)
    before = _snapshot(node)
    with pytest.raises(ValidationError) as never_reached:
        rcp.add_items(ops, heathrow.principal, HEATHROW, bag.id, [never_sent.id])
    assert "not_at_site" in str(_rules(never_reached.value))
    with pytest.raises(ValidationError) as wrong_origin:  # US mail leaves from Heathrow
        transfer_out(ops, gatwick.principal, GATWICK, "GBBHXA", [fine.id])
    assert "other_route_origin" in str(_rules(wrong_origin.value))
    with pytest.raises(ValidationError) as not_here:  # only the site it is at sends it
        transfer_out(ops, heathrow.principal, HEATHROW, GATWICK, [fine.id])
    assert "not_at_site" in str(_rules(not_here.value))
    assert _snapshot(node) == before

    url = f"/api/v1/sites/{GATWICK}/transfers"
    bad_bodies: list[tuple[Any, str]] = [
        ({"to_site": "XXXXXX", "item_ids": [fine.id]}, "unknown_site"),
        ({"to_site": GATWICK, "item_ids": [fine.id]}, "same_site"),
        ({"to_site": HEATHROW, "item_ids": ["nonsense"]}, ""),
        ({"to_site": HEATHROW, "item_ids": [fine.id, fine.id]}, "duplicate"),
        ({"to_site": HEATHROW, "item_ids": []}, ""),
        ({"to_site": HEATHROW, "item_ids": [fine.id], "extra": 1}, ""),
    ]
    for body, rule in bad_bodies:
        r = client.post(url, json=body, headers=gatwick.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert rule in r.text
    # Another site's clerk: 404, as everywhere.
    r = client.post(url, json={"to_site": HEATHROW, "item_ids": [fine.id]},
                    headers=heathrow.headers)  # fmt: skip
    assert r.status_code == 404, r.text
    assert _snapshot(node) == before
    # Sent twice: the second is refused.
    transfer_out(ops, gatwick.principal, GATWICK, HEATHROW, [fine.id])
    with pytest.raises(ValidationError) as twice:
        transfer_out(ops, gatwick.principal, GATWICK, HEATHROW, [fine.id])
    assert "in_transfer" in str(_rules(twice.value))
    boss = staff(node, "supervisor", GATWICK, "boss.gatwick")
    with pytest.raises(InvalidStateError, match="travelling"):  # on the road: not returnable
        return_to_sender(ops, boss.principal, GATWICK, fine.id, "goods that may not fly")
