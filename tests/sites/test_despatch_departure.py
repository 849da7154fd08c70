"""A despatch's scheduled departure time: given at close (or handover) in the site's local
time, kept on the despatch, and written as CARDIT's departure — not midnight."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.sites.app import despatches as dsp
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.factories import SERIES, SITE, letters, staff

DAY = "2026-07-14"  # summer: London is an hour ahead of UTC
API = f"/api/v1/sites/{SITE}/despatches"


def _composed(node: Container) -> tuple[str, dict[str, str]]:
    clerk, boss = staff(node, "clerk"), staff(node, "supervisor")
    items = letters(node, 2, 0)
    ops = node.site_ops
    accept(ops, clerk.principal, SITE, [Scan(i.id, i.weight_g) for i in items])
    bag = rcp.open_receptacle(ops, clerk.principal, SITE, **SERIES)
    rcp.add_items(ops, clerk.principal, SITE, bag.id, [i.id for i in items])
    closed = rcp.close_receptacle(ops, clerk.principal, SITE, bag.id, 3000, last=True)
    return dsp.compose(ops, boss.principal, SITE, [closed.s9]).id, boss.headers


def _cardit_departure(client: TestClient, did: str, headers: dict[str, str]) -> str:
    xml = client.get(f"{API}/{did}/messages/cardit", headers=headers).text
    found = re.search(r"<DepartureAt>([^<]+)</DepartureAt>", xml)
    assert found is not None, xml
    return found.group(1)


def test_the_departure_time_given_at_close_is_cardits_departure(
    node: Container, client: TestClient
) -> None:
    did, boss = _composed(node)
    flight = {"carrier": "BA", "flight": "BA0117", "flight_date": DAY}
    closed = client.post(f"{API}/{did}/close", json={**flight, "departure_time": "14:35"},
                         headers=boss)  # fmt: skip
    assert closed.status_code == 200, closed.text
    expected = datetime(2026, 7, 14, 14, 35, tzinfo=ZoneInfo("Europe/London"))
    assert datetime.fromisoformat(closed.json()["departs_at"]) == expected
    handed = client.post(f"{API}/{did}/handover", json=flight, headers=boss)  # same flight
    assert handed.status_code == 200, handed.text
    assert datetime.fromisoformat(_cardit_departure(client, did, boss)) == expected
    assert _cardit_departure(client, did, boss).endswith("+01:00")


def test_without_a_time_cardit_keeps_the_flights_day(node: Container, client: TestClient) -> None:
    did, boss = _composed(node)
    flight = {"carrier": "BA", "flight": "BA0117", "flight_date": DAY}
    assert client.post(f"{API}/{did}/close", json=flight, headers=boss).status_code == 200
    assert client.post(f"{API}/{did}/handover", json=flight, headers=boss).status_code == 200
    assert _cardit_departure(client, did, boss) == f"{DAY}T00:00:00+00:00"


def test_a_wrong_time_names_the_field_and_writes_nothing(
    node: Container, client: TestClient
) -> None:
    did, boss = _composed(node)
    before = node.store.head(SITE)[0]
    for wrong in ("25:00", "2pm", "14:35Z"):
        body = {"carrier": "BA", "flight": "BA0117", "flight_date": DAY, "departure_time": wrong}
        r = client.post(f"{API}/{did}/close", json=body, headers=boss)
        assert r.status_code == 422, r.text
        assert (r.json()["field"], r.json()["rule"]) == ("departure_time", "format")
    assert node.store.head(SITE)[0] == before
