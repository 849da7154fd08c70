"""The console's bag and despatch pages: scanning into a bag, closing, CN35, composing,
closing and handing over a despatch, and the supervisors' reopen and take-out, with CSRF,
another site's objects and the clerk's view."""

from __future__ import annotations

import itertools
import re

from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.incidents.app.holds import place_hold
from postex.sites.app import despatches as dsp
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.console.helpers import SITE, csrf_of, sign_in, sign_in_enrolling, user
from tests.factories import SERIES, ManualClock, letters, staff

BAGS = f"/console/sites/{SITE}/bags"
DESPATCHES = f"/console/sites/{SITE}/despatches"
HTMX = {"HX-Request": "true"}


NAMES = itertools.count()


def _accepted(node: Container, n: int, documents: int = 0) -> list[str]:
    clerk = staff(node, "clerk", name=f"api.clerk.{next(NAMES)}")
    items = letters(node, n, documents)
    accept(node.site_ops, clerk.principal, SITE, [Scan(i.id, i.weight_g) for i in items])
    return [i.id for i in items]


def _closed_bag(node: Container, n: int = 2) -> tuple[str, list[str]]:
    ids = _accepted(node, n)
    clerk = staff(node, "clerk", name=f"api.clerk.{next(NAMES)}")
    bag = rcp.open_receptacle(node.site_ops, clerk.principal, SITE, **SERIES)
    rcp.add_items(node.site_ops, clerk.principal, SITE, bag.id, ids)
    rcp.close_receptacle(node.site_ops, clerk.principal, SITE, bag.id, 500 * n + 2000)
    return bag.id, ids


def _head(node: Container) -> int:
    return node.store.head(SITE)[0]


def test_a_clerk_opens_a_bag_scans_items_in_takes_one_out_and_closes_it(
    node: Container, browser_client: TestClient
) -> None:
    """Open for a series chosen from the routes, scans answered in place (lower case and
    spaces fine, refusals with the rule), take out, close, and the CN35 inline as a PDF."""
    user(node, "clara", "clerk")
    ids = _accepted(node, 3)
    sign_in(browser_client, "clara")
    listing = browser_client.get(BAGS)
    assert listing.status_code == 200
    assert 'value="USJFKA/A/UN"' in listing.text  # a series from the routing table
    token = csrf_of(listing.text)
    r = browser_client.post(BAGS, data={"series": "USJFKA/A/UN", "csrf_token": token})
    assert r.status_code == 303
    bag_url = r.headers["location"]
    rid = bag_url.rsplit("/", 1)[1]
    page = browser_client.get(bag_url)
    assert 'id="scan"' in page.text and "Reopen" not in page.text
    token = csrf_of(page.text)
    typed = " ".join([ids[0][:2], ids[0][2:10], ids[0][10:]]).lower()
    ok = browser_client.post(f"{bag_url}/items", data={"item_id": typed, "csrf_token": token},
                             headers=HTMX)  # fmt: skip
    assert ok.status_code == 200 and 'data-outcome="accepted"' in ok.text
    assert 'id="bag-items" hx-swap-oob="true"' in ok.text and ids[0] in ok.text
    again = browser_client.post(f"{bag_url}/items", data={"item_id": ids[0], "csrf_token": token},
                                headers=HTMX)  # fmt: skip
    assert 'data-outcome="refused"' in again.text and "rule: state_in_receptacle" in again.text
    for item_id in ids[1:]:
        browser_client.post(f"{bag_url}/items", data={"item_id": item_id, "csrf_token": token},
                            headers=HTMX)  # fmt: skip
    out = browser_client.post(f"{bag_url}/items/{ids[2]}/remove", data={"csrf_token": token})
    assert out.status_code == 303
    bag = rcp.get_receptacle(node.site_ops, staff(node, "auditor").principal, SITE, rid)
    assert bag.item_count == 2
    light = browser_client.post(f"{bag_url}/close",
                                data={"gross_weight_g": "1", "csrf_token": token})  # fmt: skip
    assert light.status_code == 422 and "lighter_than_contents" in light.text
    closed = browser_client.post(f"{bag_url}/close",
                                 data={"gross_weight_g": "2 000", "csrf_token": token})  # fmt: skip
    assert closed.status_code == 303
    shown = browser_client.get(bag_url).text
    assert "cn35.pdf" in shown and 'id="scan"' not in shown
    label = browser_client.get(f"{bag_url}/cn35.pdf")
    assert label.status_code == 200
    assert label.headers["content-type"] == "application/pdf"
    assert label.headers["content-disposition"].startswith("inline")
    assert label.content.startswith(b"%PDF")


def test_a_held_item_is_amber_and_stays_out_of_the_bag(
    node: Container, browser_client: TestClient
) -> None:
    user(node, "clara", "clerk")
    [item_id] = _accepted(node, 1)
    boss = staff(node, "supervisor", name="boss")
    clerk = staff(node, "clerk", name="api.clerk.two")
    bag = rcp.open_receptacle(node.site_ops, clerk.principal, SITE, **SERIES)
    hold = place_hold(node.ctx, boss.principal, {"scope": {"sites": [SITE]},
                      "reason": "power cut", "advisory": "Heathrow paused."})  # fmt: skip
    sign_in(browser_client, "clara")
    token = csrf_of(browser_client.get(f"{BAGS}/{bag.id}").text)
    r = browser_client.post(f"{BAGS}/{bag.id}/items", data={"item_id": item_id,
                            "csrf_token": token}, headers=HTMX)  # fmt: skip
    assert 'data-outcome="held"' in r.text
    held = browser_client.get(f"/console/sites/{SITE}/held")
    assert held.status_code == 200
    assert item_id in held.text and hold.id in held.text and "Heathrow paused." in held.text


def test_posts_without_the_csrf_token_are_403_and_write_nothing(
    node: Container, browser_client: TestClient
) -> None:
    user(node, "clara", "clerk")
    bag, ids = _closed_bag(node)
    sign_in(browser_client, "clara")
    before = _head(node)
    for url, data in [
        (BAGS, {"series": "USJFKA/A/UN"}),
        (f"{BAGS}/{bag}/close", {"gross_weight_g": "2000"}),
        (f"{BAGS}/{bag}/reopen", {"reason": "forged"}),
        (f"{BAGS}/{bag}/items/{ids[0]}/remove", {}),
        (DESPATCHES, {"receptacle_ids": bag}),
    ]:
        r = browser_client.post(url, data={**data, "csrf_token": "forged"})
        assert r.status_code == 403, url
    assert _head(node) == before


def test_another_sites_bag_and_despatch_are_the_same_404_as_missing_ones(
    node: Container, browser_client: TestClient
) -> None:
    """A Gatwick clerk asking for a Heathrow bag or despatch, or Heathrow's pages, gets the
    page a missing one gets."""
    bag, _ = _closed_bag(node)
    boss = staff(node, "supervisor", name="boss")
    d = dsp.compose(node.site_ops, boss.principal, SITE, [bag])
    user(node, "gill", "clerk", site="GBLGWA")
    sign_in(browser_client, "gill")
    for where in (SITE, "GBLGWA"):  # through Heathrow's pages, and through Gatwick's own
        other = browser_client.get(f"/console/sites/{where}/bags/{bag}")
        missing = browser_client.get(f"/console/sites/{where}/bags/rcp_missing")
        assert other.status_code == missing.status_code == 404
        assert "GBLALAUSJFKA" not in other.text
        assert other.text.replace(bag, "rcp_missing") == missing.text
    for url in (f"{DESPATCHES}/{d.id}", f"{DESPATCHES}/{d.id}/bill.pdf", f"{BAGS}/{bag}/cn35.pdf",
                BAGS, DESPATCHES, f"/console/sites/{SITE}/held"):  # fmt: skip
        assert browser_client.get(url).status_code == 404, url
    assert browser_client.get(f"/console/sites/GBLGWA/despatches/{d.id}").status_code == 404


def test_a_clerk_sees_no_supervisor_forms_and_cannot_post_them(
    node: Container, browser_client: TestClient
) -> None:
    bag, _ = _closed_bag(node)
    user(node, "clara", "clerk")
    sign_in(browser_client, "clara")
    page = browser_client.get(f"{BAGS}/{bag}").text
    assert "/reopen" not in page
    listing = browser_client.get(DESPATCHES).text
    assert 'name="receptacle_ids"' not in listing  # composing is for supervisors
    token = csrf_of(page)
    before = _head(node)
    r = browser_client.post(f"{BAGS}/{bag}/reopen", data={"reason": "try", "csrf_token": token})
    assert r.status_code == 403
    boss = staff(node, "supervisor", name="boss")
    d = dsp.compose(node.site_ops, boss.principal, SITE, [bag])
    before = _head(node)
    shown = browser_client.get(f"{DESPATCHES}/{d.id}").text
    assert "/remove" not in shown and "/close" not in shown
    r = browser_client.post(f"{DESPATCHES}/{d.id}/receptacles/{bag}/remove",
                            data={"reason": "try it", "csrf_token": token})  # fmt: skip
    assert r.status_code == 403
    assert _head(node) == before


def test_a_supervisor_composes_takes_a_bag_out_closes_and_hands_over(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """Compose from the checkboxes, take one bag out (reason required), reopen it, close the
    despatch for a flight typed in lower case, print the bill, hand over."""
    first, _ = _closed_bag(node)
    second, second_items = _closed_bag(node)
    user(node, "sam", "supervisor")
    sign_in_enrolling(browser_client, "sam", clock)
    listing = browser_client.get(DESPATCHES)
    for bag in (first, second):
        assert f'value="{bag}" checked' in listing.text
    token = csrf_of(listing.text)
    r = browser_client.post(DESPATCHES, data={"receptacle_ids": [first, second],
                            "csrf_token": token})  # fmt: skip
    assert r.status_code == 303
    d_url = r.headers["location"]
    did = d_url.rsplit("/", 1)[1]
    page = browser_client.get(d_url).text
    assert f"/receptacles/{second}/remove" in page
    before = _head(node)
    blank = browser_client.post(f"{d_url}/receptacles/{second}/remove",
                                data={"reason": " ", "csrf_token": token})  # fmt: skip
    assert blank.status_code == 422
    assert "reason: min_length" in blank.text
    assert _head(node) == before
    r = browser_client.post(f"{d_url}/receptacles/{second}/remove",
                            data={"reason": "held item inside", "csrf_token": token})  # fmt: skip
    assert r.status_code == 303
    bag_page = browser_client.get(f"{BAGS}/{second}").text
    assert "/reopen" in bag_page
    why = {"reason": "take the held one out", "csrf_token": token}
    r = browser_client.post(f"{BAGS}/{second}/reopen", data=why)
    assert r.status_code == 303
    assert 'id="scan"' in browser_client.get(f"{BAGS}/{second}").text
    r = browser_client.post(f"{d_url}/close", data={"carrier": "ba", "flight": "ba 0117",
                            "flight_date": "2026-11-24", "csrf_token": token})  # fmt: skip
    assert r.status_code == 303, r.text
    closed = browser_client.get(d_url).text
    assert "bill.pdf" in closed and "/handover" in closed and 'value="BA0117"' in closed
    bill = browser_client.get(f"{d_url}/bill.pdf")
    assert bill.headers["content-type"] == "application/pdf" and bill.content.startswith(b"%PDF")
    r = browser_client.post(f"{d_url}/handover", data={"carrier": "BA", "flight": "BA0117",
                            "flight_date": "2026-11-24", "csrf_token": token})  # fmt: skip
    assert r.status_code == 303
    assert "handed over" in browser_client.get(d_url).text
    rows = dict(execute_raw(node.engine, "SELECT id, state FROM despatches"))
    assert rows == {did: "handed_over"}
    states = dict(execute_raw(node.engine, "SELECT id, state FROM items"))
    assert {states[i] for i in second_items} == {"in_receptacle"}


def test_an_auditor_reads_bags_and_despatches_without_a_single_form(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """Every page an auditor opens here has no form but sign-out."""
    bag, _ = _closed_bag(node)
    boss = staff(node, "supervisor", name="boss")
    d = dsp.compose(node.site_ops, boss.principal, SITE, [bag])
    clerk = staff(node, "clerk", name="api.clerk.open")
    still_open = rcp.open_receptacle(node.site_ops, clerk.principal, SITE, **SERIES)
    user(node, "audrey", "auditor", site=SITE)
    sign_in_enrolling(browser_client, "audrey", clock)
    for url in (BAGS, f"{BAGS}/{bag}", f"{BAGS}/{still_open.id}", DESPATCHES,
                f"{DESPATCHES}/{d.id}", f"/console/sites/{SITE}/held"):  # fmt: skip
        r = browser_client.get(url)
        assert r.status_code == 200, url
        forms = re.findall(r'<form[^>]*\saction="([^"]+)"', r.text)
        assert forms == ["/console/sign-out"], (url, forms)


def test_a_supervisor_returns_a_held_item_to_its_sender_from_the_queue(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """The queue offers "Return" to a supervisor (never to a clerk); the item leaves the
    queue, its tracking says returned, and a post without the token writes nothing."""
    [item] = _accepted(node, 1)
    place_hold(node.ctx, staff(node, "ops").principal, {
        "scope": {"sites": [SITE], "destinations": ["US"]}, "reason": "closed",
        "advisory": "Items to the US wait.", "emergency": True,
    })  # fmt: skip
    queue = f"/console/sites/{SITE}/held"
    user(node, "sam", "supervisor")
    sign_in_enrolling(browser_client, "sam", clock)
    page = browser_client.get(queue)
    assert f"/held/{item}/return" in page.text
    before = _head(node)
    forged = browser_client.post(f"{queue}/{item}/return", data={"reason": "no token"})
    assert forged.status_code == 403 and _head(node) == before
    r = browser_client.post(
        f"{queue}/{item}/return",
        data={"reason": "sender wants it back", "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 303
    assert item not in browser_client.get(queue).text
    [(state,)] = execute_raw(node.engine, f"SELECT state FROM items WHERE id = '{item}'")
    assert state == "returned"
