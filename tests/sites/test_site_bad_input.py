"""Bad input at a site gets a problem saying what is wrong and what to do; nothing changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.ports import UnitOfWork
from postex.eventlog.sql.admin import execute_raw
from postex.items.app.preadvice import cancel_item
from postex.kernel.errors import HeldError
from tests.factories import SERIES, SITE, Staff, letters, staff

API = f"/api/v1/sites/{SITE}"
CA_SERIES = {"destination": "CAYTOA", "category": "A", "subclass": "UN"}


@dataclass
class Site:
    node: Container
    client: TestClient
    clerk: Staff
    boss: Staff

    def snapshot(self) -> tuple[Any, ...]:
        heads = execute_raw(self.node.engine, "SELECT site, seq FROM heads ORDER BY site")
        return tuple(heads), self.node.rebuilder.projection_digest()

    def post(self, path: str, body: Any, who: Staff | None = None) -> Any:
        return self.client.post(f"{API}{path}", json=body, headers=(who or self.clerk).headers)

    def accept(self, items: Any) -> None:
        scans = [{"item_id": i.id, "weight_g": i.weight_g} for i in items]
        assert self.post("/acceptances", {"scans": scans}).status_code == 201

    def bag(self, series: Mapping[str, str] = SERIES, items: Any = ()) -> str:
        rid = str(self.post("/receptacles", series).json()["id"])
        if items:
            got = self.post(f"/receptacles/{rid}/items", {"item_ids": [i.id for i in items]})
            assert got.status_code == 200, got.text
        return rid


@pytest.fixture
def site(node: Container, client: TestClient) -> Site:
    return Site(node, client, staff(node, "clerk"), staff(node, "supervisor"))


def refused(site: Site, response: Any, before: Any, status: int, rule: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    rules = [problem.get("rule")] + [e["rule"] for e in problem.get("errors", [])]
    assert rule in rules, problem
    assert problem["detail"]
    assert site.snapshot() == before
    return problem


@pytest.mark.sqlite_only
def test_scanning_an_unknown_item_is_refused(site: Site) -> None:
    """An S10 id nobody pre-advised is refused with advice to ask the sender to pre-advise it."""
    before = site.snapshot()
    got = site.post("/acceptances", {"item_id": "LA999999995GB", "weight_g": 100})
    problem = refused(site, got, before, 422, "unknown_item")
    assert "pre-advise" in problem["detail"]


@pytest.mark.sqlite_only
def test_scanning_a_cancelled_item_is_refused(site: Site) -> None:
    """A cancelled item cannot be accepted."""
    item = letters(site.node, 1, 0)[0]
    cancel_item(site.node.ctx, item.customer_id, item.id)
    before = site.snapshot()
    got = site.post("/acceptances", {"item_id": item.id, "weight_g": item.weight_g})
    refused(site, got, before, 422, "state_cancelled")


@pytest.mark.sqlite_only
def test_scanning_a_held_item_is_refused(site: Site) -> None:
    """An item the holds feature marked held is refused with a hold problem."""
    item = letters(site.node, 1, 0)[0]
    execute_raw(site.node.engine, "UPDATE items SET state = 'held' WHERE id = ?", (item.id,))
    before = site.snapshot()
    got = site.post("/acceptances", {"item_id": item.id, "weight_g": item.weight_g})
    refused(site, got, before, 409, "item_held")


@pytest.mark.sqlite_only
def test_an_export_hold_policy_is_enforced_at_every_step(site: Site) -> None:
    """Acceptance, receptacle and despatch steps each consult the export policies."""
    seen: list[str] = []

    class Everything:
        def check(self, uow: UnitOfWork, action: str, subject: Mapping[str, Any]) -> None:
            seen.append(action)
            assert subject["site"] == SITE and subject["item_id"]
            raise HeldError("exports to the US are held", rule="hold", advisory="wait")

    items = letters(site.node, 1, 0)
    site.node.ctx.policies.append(Everything())
    before = site.snapshot()
    got = site.post("/acceptances", {"item_id": items[0].id, "weight_g": items[0].weight_g})
    refused(site, got, before, 409, "hold")
    assert seen == ["acceptance"]


@pytest.mark.sqlite_only
def test_weight_outside_tolerance_is_refused(site: Site) -> None:
    """A measured weight far from the declared one is refused, naming the allowed range."""
    item = letters(site.node, 1, 0)[0]
    before = site.snapshot()
    got = site.post("/acceptances", {"item_id": item.id, "weight_g": item.weight_g * 2})
    problem = refused(site, got, before, 422, "weight_tolerance")
    assert "weigh the item again" in problem["detail"]


@pytest.mark.sqlite_only
def test_an_item_accepted_twice_is_refused(site: Site) -> None:
    """A second scan of an accepted item, or the same item twice in a batch, is refused."""
    items = letters(site.node, 2, 0)
    site.accept(items[:1])
    before = site.snapshot()
    got = site.post("/acceptances", {"item_id": items[0].id, "weight_g": items[0].weight_g})
    refused(site, got, before, 422, "state_accepted")
    twice = [{"item_id": items[1].id, "weight_g": items[1].weight_g}] * 2
    refused(site, site.post("/acceptances", {"scans": twice}), before, 422, "duplicate")


@pytest.mark.sqlite_only
def test_a_not_yet_accepted_item_cannot_go_into_a_receptacle(site: Site) -> None:
    """Only accepted items are bagged."""
    item = letters(site.node, 1, 0)[0]
    rid = site.bag()
    before = site.snapshot()
    got = site.post(f"/receptacles/{rid}/items", {"item_ids": [item.id]})
    problem = refused(site, got, before, 422, "state_pre_advised")
    assert "accept it first" in problem["errors"][0]["message"]


@pytest.mark.sqlite_only
def test_an_item_for_another_destination_is_refused(site: Site) -> None:
    """A letter for Canada does not go into a bag for New York."""
    item = letters(
        site.node,
        1,
        0,
        addressee={**_addressee(), "country": "CA", "postcode": "M5V 2T6", "region": "ON"},
    )[0]
    site.accept([item])
    rid = site.bag()
    before = site.snapshot()
    problem = refused(
        site,
        site.post(f"/receptacles/{rid}/items", {"item_ids": [item.id]}),
        before,
        422,
        "other_series",
    )
    assert "CAYTOA" in problem["errors"][0]["message"]


@pytest.mark.sqlite_only
def test_an_item_already_in_a_receptacle_is_refused(site: Site) -> None:
    """An item cannot be in two receptacles."""
    items = letters(site.node, 1, 0)
    site.accept(items)
    site.bag(items=items)
    other = site.bag()
    before = site.snapshot()
    got = site.post(f"/receptacles/{other}/items", {"item_ids": [items[0].id]})
    refused(site, got, before, 422, "state_in_receptacle")


@pytest.mark.sqlite_only
def test_a_receptacle_over_its_weight_limit_is_refused(site: Site) -> None:
    """Adding items beyond the receptacle's limit is refused; nothing is added."""
    ops = site.node.site_ops
    ops.rules = replace(ops.rules, receptacle_limit_g=1000)
    items = letters(site.node, 2, 0)
    site.accept(items)
    rid = site.bag()
    before = site.snapshot()
    got = site.post(f"/receptacles/{rid}/items", {"item_ids": [i.id for i in items]})
    refused(site, got, before, 422, "over_limit")


@pytest.mark.sqlite_only
def test_closing_an_empty_receptacle_is_refused(site: Site) -> None:
    """An empty receptacle has no S9 id to get."""
    rid = site.bag()
    before = site.snapshot()
    got = site.post(f"/receptacles/{rid}/close", {"gross_weight_g": 500})
    refused(site, got, before, 409, "empty_receptacle")


@pytest.mark.sqlite_only
def test_composing_receptacles_of_different_series_is_refused(site: Site) -> None:
    """Bags for New York and Toronto cannot make one despatch."""
    us = letters(site.node, 1, 0)
    ca = letters(
        site.node,
        1,
        0,
        addressee={**_addressee(), "country": "CA", "postcode": "M5V 2T6", "region": "ON"},
    )
    site.accept(us + ca)
    bags = [site.bag(SERIES, us), site.bag(CA_SERIES, ca)]
    for rid in bags:
        assert site.post(f"/receptacles/{rid}/close", {"gross_weight_g": 1000}).status_code == 200
    before = site.snapshot()
    got = site.post("/despatches", {"receptacle_ids": bags}, site.boss)
    refused(site, got, before, 422, "other_series")


@pytest.mark.sqlite_only
def test_handing_over_an_open_despatch_is_refused(site: Site) -> None:
    """A despatch must be closed (bill and messages) before the carrier takes it."""
    items = letters(site.node, 1, 0)
    site.accept(items)
    rid = site.bag(items=items)
    site.post(f"/receptacles/{rid}/close", {"gross_weight_g": 1000, "last": True})
    did = site.post("/despatches", {"receptacle_ids": [rid]}, site.boss).json()["id"]
    before = site.snapshot()
    plan = {"carrier": "BA", "flight": "BA0117", "flight_date": "2026-11-24"}
    got = site.post(f"/despatches/{did}/handover", plan, site.boss)
    problem = refused(site, got, before, 409, "despatch_state")
    assert "close it first" in problem["detail"]


@pytest.mark.sqlite_only
def test_acting_at_another_site_is_not_found(site: Site) -> None:
    """A Gatwick clerk does not see Heathrow: its routes answer 404."""
    gatwick = staff(site.node, "clerk", "GBLGWA")
    before = site.snapshot()
    got = site.post("/receptacles", SERIES, gatwick)
    refused(site, got, before, 404, None)  # type: ignore[arg-type]


@pytest.mark.sqlite_only
def test_auditors_read_but_do_not_act(site: Site) -> None:
    """An auditor lists receptacles anywhere but may not open one."""
    auditor = staff(site.node, "auditor", None)
    assert site.client.get(f"{API}/receptacles", headers=auditor.headers).status_code == 200
    before = site.snapshot()
    refused(site, site.post("/receptacles", SERIES, auditor), before, 403, "role")


@pytest.mark.sqlite_only
def test_a_customer_key_cannot_use_site_routes(site: Site) -> None:
    """Site routes are for staff tokens."""
    from tests.factories import new_customer

    key = new_customer(site.node).api_key
    got = site.client.get(f"{API}/receptacles", headers={"Authorization": f"Bearer {key}"})
    assert got.status_code == 403


def _addressee() -> dict[str, Any]:
    from tests.factories import ITEM

    return dict(ITEM["addressee"])


@pytest.mark.sqlite_only
def test_clerks_do_not_compose_despatches(site: Site) -> None:
    """Composing, closing and handing over are for supervisors (and ops)."""
    items = letters(site.node, 1, 0)
    site.accept(items)
    rid = site.bag(items=items)
    site.post(f"/receptacles/{rid}/close", {"gross_weight_g": 1000, "last": True})
    before = site.snapshot()
    refused(site, site.post("/despatches", {"receptacle_ids": [rid]}), before, 403, "role")
