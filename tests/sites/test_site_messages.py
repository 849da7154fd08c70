"""Despatch messages per customer, removal from a bag, and carrier receipts that are refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from postex.accounts.app.customers import erase_customer
from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.errors import KeyUnavailableError
from postex.sites.app import despatches as dsp
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.factories import SERIES, SITE, letters, partner, staff
from tests.sites.test_site_day import resdit

PLAN = ("BA", "BA0117", "2026-11-24")


def _despatch(node: Container, groups: list[list[str]]) -> str:
    clerk, boss = staff(node, "clerk"), staff(node, "supervisor")
    ops = node.site_ops
    ids = [i for g in groups for i in g]
    records = ops.ctx.store
    with records.read() as uow:
        from postex.sites.app.ops import SiteOpsRepository

        found = uow.repo(SiteOpsRepository).items(ids)
    accept(ops, clerk.principal, SITE, [Scan(i, found[i].weight_g) for i in ids])
    bag = rcp.open_receptacle(ops, clerk.principal, SITE, **SERIES)
    rcp.add_items(ops, clerk.principal, SITE, bag.id, ids)
    closed = rcp.close_receptacle(ops, clerk.principal, SITE, bag.id, 5000, last=True)
    d = dsp.compose(ops, boss.principal, SITE, [closed.s9])
    dsp.close_despatch(ops, boss.principal, SITE, d.id, *PLAN)
    return d.id


@pytest.mark.sqlite_only
def test_itmatt_is_one_message_per_customer_and_dies_with_the_customers_key(
    node: Container, client: TestClient
) -> None:
    """Two senders get two sealed ITMATT parts; erasing one makes only its part unreadable."""
    first = [i.id for i in letters(node, 1, 0)]
    second_items = letters(node, 2, 0)
    did = _despatch(node, [first, [i.id for i in second_items]])
    boss = staff(node, "supervisor", name="boss.two")
    base = f"/api/v1/sites/{SITE}/despatches/{did}/messages"
    listed = client.get(base, headers=boss.headers).json()
    assert sorted((m["kind"], m["part"]) for m in listed) == [
        ("itmatt", "001"),
        ("itmatt", "002"),
        ("predes", "001"),
    ]
    ambiguous = client.get(f"{base}/itmatt", headers=boss.headers)
    assert ambiguous.status_code == 422 and ambiguous.json()["field"] == "part"
    parts = [client.get(f"{base}/itmatt?part={p}", headers=boss.headers) for p in ("001", "002")]
    assert all(p.status_code == 200 for p in parts)
    assert sorted(p.content.count(b"<Item>") for p in parts) == [1, 2]
    erase_customer(node.ctx, second_items[0].customer_id)
    node.vault.forget_cached()
    ops = node.site_ops
    erased = next(
        m.part
        for m in dsp.list_messages(ops, boss.principal, SITE, did)
        if m.customer_id == second_items[0].customer_id
    )
    try:
        dsp.message(ops, boss.principal, SITE, did, "itmatt", erased)
        raise AssertionError("an erased customer's ITMATT opened")
    except KeyUnavailableError:
        pass


@pytest.mark.sqlite_only
def test_an_item_taken_out_of_a_bag_is_accepted_again(node: Container) -> None:
    """Removing an item frees it for another bag and lightens the first."""
    clerk = staff(node, "clerk")
    ops = node.site_ops
    items = letters(node, 2, 0)
    accept(ops, clerk.principal, SITE, [Scan(i.id, i.weight_g) for i in items])
    bag = rcp.open_receptacle(ops, clerk.principal, SITE, **SERIES)
    bag = rcp.add_items(ops, clerk.principal, SITE, bag.id, [i.id for i in items])
    assert (bag.item_count, bag.content_g) == (2, 1700)
    bag = rcp.remove_item(ops, clerk.principal, SITE, bag.id, items[0].id)
    assert (bag.item_count, bag.content_g) == (1, 850)
    other = rcp.open_receptacle(ops, clerk.principal, SITE, **SERIES)
    assert rcp.add_items(ops, clerk.principal, SITE, other.id, [items[0].id]).item_count == 1


@pytest.mark.sqlite_only
def test_carrier_receipts_for_unknown_or_unsent_bags_are_refused(
    node: Container, client: TestClient
) -> None:
    """RESDIT for an unknown S9 or a despatch not yet handed over changes nothing."""
    carrier = partner(node)
    did = _despatch(node, [[i.id for i in letters(node, 1, 0)]])
    s9 = execute_raw(node.engine, "SELECT s9 FROM receptacles")[0][0]
    clerk = staff(node, "clerk", name="clerk.two")
    before = node.rebuilder.projection_digest()
    unknown = client.post(
        "/api/v1/partner/resdit", headers=carrier.headers, content=resdit((did + "002100050", "74"))
    )
    assert unknown.status_code == 422 and unknown.json()["rule"] == "unknown_receptacle"
    early = client.post(
        "/api/v1/partner/resdit", headers=carrier.headers, content=resdit((s9, "74"))
    )
    assert early.status_code == 422 and early.json()["rule"] == "not_handed_over"
    garbage = client.post("/api/v1/partner/resdit", headers=carrier.headers, content=b"<not-xml")
    assert garbage.status_code == 422
    staff_call = client.post(
        "/api/v1/partner/resdit", headers=clerk.headers, content=resdit((s9, "74"))
    )
    assert staff_call.status_code == 403
    assert node.rebuilder.projection_digest() == before


@pytest.mark.sqlite_only
def test_a_big_customers_itmatt_is_split_into_parts(
    node: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ITMATT part holds more than ITMATT_MAX_ITEMS items, so each event stays small."""
    monkeypatch.setattr(dsp, "ITMATT_MAX_ITEMS", 2)
    did = _despatch(node, [[i.id for i in letters(node, 5, 0)]])
    boss = staff(node, "supervisor", name="boss.three")
    parts = [
        m for m in dsp.list_messages(node.site_ops, boss.principal, SITE, did) if m.kind == "itmatt"
    ]
    assert [m.part for m in parts] == ["001", "002", "003"]
    sizes = [
        dsp.message(node.site_ops, boss.principal, SITE, did, "itmatt", m.part).count(b"<Item>")
        for m in parts
    ]
    assert sizes == [2, 2, 1]
