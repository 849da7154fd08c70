"""A supervisor returns an accepted item to its sender: EXX, state `returned`, the public
sees "Returned" and never the reason; clerks, bagged items and other sites are refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.incidents.app.holds import place_hold
from postex.kernel.errors import ForbiddenError, InvalidStateError, NotFoundError, ValidationError
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from postex.sites.app.returns import return_to_sender
from postex.tracking.app.public import tracking_view
from tests.factories import SERIES, SITE, letters, staff

REASON = "lithium batteries inside: may not fly"


def _accepted(node: Container, n: int = 1) -> list[str]:
    items = letters(node, n, 0)
    clerk = staff(node, "clerk", name=f"clerk.{items[0].id.lower()}")
    accept(node.site_ops, clerk.principal, SITE, [Scan(i.id, i.weight_g) for i in items])
    return [i.id for i in items]


def _state(node: Container, item_id: str) -> str:
    [(state,)] = execute_raw(node.engine, f"SELECT state FROM items WHERE id = '{item_id}'")
    return str(state)


def test_a_returned_item_shows_returned_to_the_public_without_the_reason(
    node: Container,
) -> None:
    [item] = _accepted(node)
    boss = staff(node, "supervisor")
    done = return_to_sender(node.site_ops, boss.principal, SITE, item, REASON)
    assert done.state == "returned" == _state(node, item)
    view = tracking_view(node.ctx, item)
    assert view.headline == "Returned" and view.tracking.events[-1].code == "EXX"
    assert REASON not in repr(view)
    with pytest.raises(InvalidStateError):  # once only
        return_to_sender(node.site_ops, boss.principal, SITE, item, REASON)


def test_a_held_item_can_be_returned(node: Container) -> None:
    [item] = _accepted(node)
    boss = staff(node, "supervisor")
    place_hold(node.ctx, boss.principal, {"scope": {"sites": [SITE], "destinations": ["US"]},
                                          "reason": "closed", "advisory": "Waits."})  # fmt: skip
    assert _state(node, item) == "held"
    return_to_sender(node.site_ops, boss.principal, SITE, item, REASON)
    assert _state(node, item) == "returned"


def test_refusals_change_nothing(node: Container) -> None:
    first, bagged = _accepted(node, 2)
    clerk, boss = staff(node, "clerk"), staff(node, "supervisor")
    other = staff(node, "supervisor", site="GBLGWA", name="boss.gatwick")
    bag = rcp.open_receptacle(node.site_ops, clerk.principal, SITE, **SERIES)
    rcp.add_items(node.site_ops, clerk.principal, SITE, bag.id, [bagged])
    before = execute_raw(node.engine, "SELECT count(*) FROM events")
    with pytest.raises(ForbiddenError):
        return_to_sender(node.site_ops, clerk.principal, SITE, first, REASON)
    with pytest.raises(InvalidStateError, match="take it out of its bag"):
        return_to_sender(node.site_ops, boss.principal, SITE, bagged, REASON)
    with pytest.raises(NotFoundError):  # accepted at another site: not found from here
        return_to_sender(node.site_ops, other.principal, "GBLGWA", first, REASON)
    with pytest.raises(ValidationError):
        return_to_sender(node.site_ops, boss.principal, SITE, first, "")
    assert execute_raw(node.engine, "SELECT count(*) FROM events") == before
    assert _state(node, first) == "accepted"


def test_the_api_route_returns_and_answers_problems(node: Container, client: TestClient) -> None:
    [item] = _accepted(node)
    boss = staff(node, "supervisor")
    url = f"/api/v1/sites/{SITE}/items/{item}/return"
    bad = client.post(url, json={"reason": ""}, headers=boss.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "reason"
    ok = client.post(url, json={"reason": REASON}, headers=boss.headers)
    assert ok.status_code == 200 and ok.json()["state"] == "returned"
    again = client.post(url, json={"reason": REASON}, headers=boss.headers)
    assert again.status_code == 409
