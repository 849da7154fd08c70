"""The console's failovers page: one operations lead asks, the same lead cannot confirm
(no button, and the forced form is refused), a second confirms; the page shows what is in
force and the abandoned receptacles; an auditor reads only; a failback ends it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.server import create_app
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.console.helpers import csrf_of, signed_in
from tests.factories import SERIES, ManualClock, letters, staff

LOST, SURVIVOR = "GBLALA", "GBLGWA"


@pytest.fixture
def other_client(node: Container) -> Iterator[TestClient]:
    with TestClient(create_app(node), follow_redirects=False) as c:
        yield c


def _ids(html: str) -> list[str]:
    return re.findall(r"/console/failovers/(fov_[0-9a-f]{20})/confirm", html)


def test_two_leads_fail_over_and_back_from_the_console(
    node: Container, browser_client: TestClient, other_client: TestClient, clock: ManualClock
) -> None:
    item = letters(node, 1, 0)[0]
    sup = staff(node, "supervisor", LOST, "api.sup")
    accept(node.site_ops, sup.principal, LOST, [Scan(item.id, item.weight_g)])
    bag = rcp.open_receptacle(node.site_ops, sup.principal, LOST, **SERIES)
    signed_in(node, browser_client, "olga", "ops", clock, site=None)
    signed_in(node, other_client, "otto", "ops", clock, site=None)

    page = browser_client.get("/console/failovers")
    assert page.status_code == 200 and 'href="/console/failovers"' in page.text
    token = csrf_of(page.text)
    ask = {"csrf_token": token, "from_site": LOST, "to_site": LOST, "reason": "ransomware"}
    bad = browser_client.post("/console/failovers", data=ask)
    assert bad.status_code == 422 and "not to itself" in bad.text
    asked = browser_client.post("/console/failovers", data={**ask, "to_site": SURVIVOR})
    assert asked.status_code == 303
    mine = browser_client.get("/console/failovers").text
    assert _ids(mine) == [] and "waiting for a second operations lead" in mine
    fid = re.findall(r"fov_[0-9a-f]{20}", mine)[0]
    forced = browser_client.post(f"/console/failovers/{fid}/confirm", data={"csrf_token": token})
    assert forced.status_code == 403 and "two_person" in forced.text

    theirs = other_client.get("/console/failovers")
    assert _ids(theirs.text) == [fid]
    done = other_client.post(f"/console/failovers/{fid}/confirm",
                             data={"csrf_token": csrf_of(theirs.text)})  # fmt: skip
    assert done.status_code == 303
    after = other_client.get("/console/failovers").text
    assert f"<strong>{LOST}</strong> fails over to <strong>{SURVIVOR}</strong>" in after
    assert bag.id in after and "ransomware" in after  # abandoned, with the reason
    shown = other_client.get(f"/console/sites/{LOST}/bags/{bag.id}")
    assert shown.status_code == 200 and 'id="abandoned"' in shown.text

    back = other_client.post("/console/failovers/failback", data={
        "csrf_token": csrf_of(after), "site": LOST, "reason": "restored"})  # fmt: skip
    assert back.status_code == 303
    listing = browser_client.get("/console/failovers").text
    (bid,) = _ids(listing)
    assert browser_client.post(f"/console/failovers/{bid}/confirm",
                               data={"csrf_token": token}).status_code == 303  # fmt: skip
    assert "In force" not in browser_client.get("/console/failovers").text


def test_an_auditor_reads_and_a_clerk_is_refused(
    node: Container, browser_client: TestClient, other_client: TestClient, clock: ManualClock
) -> None:
    signed_in(node, browser_client, "aud", "auditor", clock, site=None)
    page = browser_client.get("/console/failovers")
    assert page.status_code == 200
    assert "Ask to fail over" not in page.text
    signed_in(node, other_client, "cleo", "clerk", clock, site=LOST)
    assert other_client.get("/console/failovers").status_code == 403
    assert 'href="/console/failovers"' not in other_client.get(f"/console/sites/{LOST}/accept").text
