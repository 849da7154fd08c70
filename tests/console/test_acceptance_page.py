"""The console's scan page: accepted, refused and held answers, "which bag?", shift counts."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.incidents.app.holds import place_hold
from postex.sites.app import receptacles as rcp
from tests.console.helpers import SITE, csrf_of, sign_in, user
from tests.factories import SERIES, letters, staff

ACCEPT = f"/console/sites/{SITE}/accept"
HTMX = {"HX-Request": "true"}


def _scan(client: TestClient, item_id: str, weight: object) -> str:
    token = csrf_of(client.get(ACCEPT).text)
    r = client.post(
        ACCEPT,
        data={"item_id": item_id, "weight_g": str(weight), "csrf_token": token},
        headers=HTMX,
    )
    assert r.status_code == 200, r.text
    return r.text


def test_a_scan_typed_in_lower_case_with_spaces_is_accepted_and_names_the_open_bag(
    node: Container, browser_client: TestClient
) -> None:
    """A hand-typed id is read like a scanned one; the answer names the series and the open
    receptacle that takes the item, from the routing table and the site's open bags."""
    user(node, "clara", "clerk")
    clerk = staff(node, "clerk", name="api.clerk")
    [item] = letters(node, 1, 0)
    bag = rcp.open_receptacle(node.site_ops, clerk.principal, SITE, **SERIES)
    sign_in(browser_client, "clara")
    typed = " ".join([item.id[:2], item.id[2:10], item.id[10:]]).lower()
    answer = _scan(browser_client, typed, item.weight_g)
    assert 'data-outcome="accepted"' in answer
    assert item.id in answer
    assert "USJFKA" in answer
    assert "category A, subclass UN" in answer
    assert bag.id in answer
    assert '<dd id="count-accepted">1</dd>' in answer
    rows = execute_raw(node.engine, "SELECT state FROM items")
    assert rows == [("accepted",)]


def test_a_refused_scan_says_which_rule_and_what_to_do(
    node: Container, browser_client: TestClient
) -> None:
    """A weight outside the tolerance and an unknown id are refused in plain words."""
    user(node, "clara", "clerk")
    [item] = letters(node, 1, 0)
    sign_in(browser_client, "clara")
    heavy = _scan(browser_client, item.id, item.weight_g * 3)
    assert 'data-outcome="refused"' in heavy
    assert "weight" in heavy
    unknown = _scan(browser_client, "RB123456785GB", 100)
    assert 'data-outcome="refused"' in unknown
    assert "no pre-advice for this item" in unknown
    assert '<dd id="count-refused">2</dd>' in unknown
    assert execute_raw(node.engine, "SELECT state FROM items") == [("pre_advised",)]


def test_a_scan_under_an_export_hold_is_held_with_its_advisory(
    node: Container, browser_client: TestClient
) -> None:
    """An item covered by a hold gets the amber answer: which hold and its advisory."""
    user(node, "clara", "clerk")
    boss = staff(node, "supervisor", name="boss")
    [item] = letters(node, 1, 0)
    hold = place_hold(
        node.ctx,
        boss.principal,
        {"scope": {"sites": [SITE]}, "reason": "power cut", "advisory": "Heathrow paused."},
    )
    sign_in(browser_client, "clara")
    answer = _scan(browser_client, item.id, item.weight_g)
    assert 'data-outcome="held"' in answer
    assert hold.id in answer
    assert "Heathrow paused." in answer
    assert '<dd id="count-held">1</dd>' in answer


def test_the_page_without_javascript_answers_with_the_whole_page(
    node: Container, browser_client: TestClient
) -> None:
    """A plain form post (no htmx) gets the full page with the answer in it."""
    user(node, "clara", "clerk")
    [item] = letters(node, 1, 0)
    sign_in(browser_client, "clara")
    token = csrf_of(browser_client.get(ACCEPT).text)
    r = browser_client.post(
        ACCEPT, data={"item_id": item.id, "weight_g": str(item.weight_g), "csrf_token": token}
    )
    assert r.status_code == 200
    assert "<!doctype html>" in r.text
    assert 'data-outcome="accepted"' in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'none'")


def test_static_assets_are_served_by_postex_itself(browser_client: TestClient) -> None:
    """htmx, the styles and the sounds come from the node, with their types; nothing else."""
    for name, kind in [("htmx.min.js", "text/javascript"), ("console.css", "text/css"),
                       ("accepted.wav", "audio/wav"), ("held.wav", "audio/wav"),
                       ("refused.wav", "audio/wav")]:  # fmt: skip
        r = browser_client.get(f"/static/{name}")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(kind)
    assert browser_client.get("/static/..%2Fconsole.py").status_code == 404
    assert browser_client.get("/static/secret.txt").status_code == 404


def test_console_pages_stay_out_of_the_openapi_document(browser_client: TestClient) -> None:
    """The API document lists the API only."""
    paths = browser_client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/console", "/static"))]


def test_a_refused_htmx_request_gets_an_answer_in_place_not_a_page(
    node: Container, browser_client: TestClient
) -> None:
    """A forged scan from the page is 403 with a red answer fragment, not a whole page."""
    user(node, "clara", "clerk")
    sign_in(browser_client, "clara")
    r = browser_client.post(ACCEPT, data={"item_id": "RB123456785GB"}, headers=HTMX)
    assert r.status_code == 403
    assert 'data-outcome="refused"' in r.text
    assert "<!doctype html>" not in r.text
