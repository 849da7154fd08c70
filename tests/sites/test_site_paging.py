"""Receptacle and despatch lists page with an opaque cursor, a limit and a next link."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.sites.app import despatches as dsp
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.factories import SERIES, SITE, Staff, letters, staff

API = f"/api/v1/sites/{SITE}"


def _walk(client: TestClient, who: Staff, url: str, key: str) -> list[list[str]]:
    """Follow links.next from ``url`` to the end; the ids of each page."""
    pages: list[list[str]] = []
    next_url: str | None = url
    while next_url is not None:
        r = client.get(next_url, headers=who.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append([x["id"] for x in body[key]])
        assert (body["next_cursor"] is None) == ("next" not in body["links"])
        next_url = body["links"].get("next")
        assert len(pages) < 20
    return pages


def _bags_with_one_item(node: Container, clerk: Staff, n: int) -> list[str]:
    items = letters(node, n, 0)
    accept(node.site_ops, clerk.principal, SITE, [Scan(i.id, i.weight_g) for i in items])
    bags = []
    for item in items:
        bag = rcp.open_receptacle(node.site_ops, clerk.principal, SITE, **SERIES)
        rcp.add_items(node.site_ops, clerk.principal, SITE, bag.id, [item.id])
        bags.append(bag.id)
    return bags


def test_receptacles_page_in_opening_order_and_keep_the_state_filter(
    node: Container, client: TestClient
) -> None:
    """Five bags in pages of two: every bag once, oldest first; the filter stays on."""
    clerk = staff(node, "clerk")
    bags = _bags_with_one_item(node, clerk, 5)
    rcp.close_receptacle(node.site_ops, clerk.principal, SITE, bags[2], 1000, last=True)
    pages = _walk(client, clerk, f"{API}/receptacles?limit=2", "receptacles")
    assert pages == [bags[0:2], bags[2:4], bags[4:5]]
    open_pages = _walk(client, clerk, f"{API}/receptacles?state=open&limit=2", "receptacles")
    assert open_pages == [[bags[0], bags[1]], [bags[3], bags[4]]]
    first = client.get(f"{API}/receptacles?state=open&limit=2", headers=clerk.headers).json()
    assert "state=open" in first["links"]["next"]
    whole = client.get(f"{API}/receptacles", headers=clerk.headers).json()
    assert [r["id"] for r in whole["receptacles"]] == bags
    assert whole["next_cursor"] is None


def test_despatches_page_in_composing_order(node: Container, client: TestClient) -> None:
    """Three despatches in pages of two, followed through links.next."""
    clerk, boss = staff(node, "clerk"), staff(node, "supervisor")
    made = []
    for rid in _bags_with_one_item(node, clerk, 3):
        closed = rcp.close_receptacle(node.site_ops, clerk.principal, SITE, rid, 1000, last=True)
        made.append(dsp.compose(node.site_ops, boss.principal, SITE, [closed.s9]).id)
    pages = _walk(client, boss, f"{API}/despatches?limit=2", "despatches")
    assert pages == [made[0:2], made[2:3]]
    assert _walk(client, boss, f"{API}/despatches?state=closed", "despatches") == [[]]


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ("cursor=not-a-cursor", "cursor", "cursor"),
        ("cursor=WzEsMl0", "cursor", "cursor"),  # [1,2]: well-formed JSON, not ours
        ("state=lost", "state", "enum"),
        ("colour=red", "colour", "unknown_field"),
    ],
)
@pytest.mark.parametrize("path", ["receptacles", "despatches"])
def test_bad_paging_input_is_a_problem_naming_field_and_rule(
    node: Container, client: TestClient, path: str, query: str, field: str, rule: str
) -> None:
    """A cursor we did not issue, an unknown state or parameter: 422 problem, nothing written."""
    clerk = staff(node, "clerk")
    before = node.store.head(SITE)
    r = client.get(f"{API}/{path}?{query}", headers=clerk.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors: list[dict[str, Any]] = r.json()["errors"]
    assert (errors[0]["field"], errors[0]["rule"]) == (field, rule)
    assert node.store.head(SITE) == before


@pytest.mark.parametrize("limit", ["0", "201", "many"])
def test_a_limit_out_of_range_is_a_problem(node: Container, client: TestClient, limit: str) -> None:
    """limit is 1 to 200."""
    clerk = staff(node, "clerk")
    r = client.get(f"{API}/receptacles?limit={limit}", headers=clerk.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "limit" in r.text
