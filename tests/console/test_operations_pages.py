"""The operations console: holds (two-person rule, staged release), advisories with the
status page's preview, the audit trail with usernames, and network health."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container, replication
from postex.eventlog.chain import format_time
from postex.incidents.app.holds import list_holds
from postex.server import create_app
from tests.console.helpers import SITE, csrf_of, signed_in
from tests.factories import ManualClock, letters, staff
from tests.incidents.incident_helpers import accept_items, item_state

OPS_PAGES = ("/console/holds", "/console/advisories", "/console/audit", "/console/network")


@pytest.fixture
def other_client(node: Container) -> Iterator[TestClient]:
    """A second browser, for the second person."""
    with TestClient(create_app(node), follow_redirects=False) as c:
        yield c


def head(node: Container) -> int:
    return node.store.head(SITE)[0]


def post_forms(html: str) -> list[str]:
    """The actions of the forms on a page that change something (sign-out aside)."""
    actions = re.findall(r'<form method="post" action="([^"]+)"', html)
    return [a for a in actions if a != "/console/sign-out"]


def place_form(client: TestClient, **fields: object) -> dict[str, object]:
    page = client.get("/console/holds")
    assert page.status_code == 200, page.text
    return {
        "csrf_token": csrf_of(page.text),
        "reason": "customs system down",
        "advisory": "Goods to the US wait at the site.",
        "customer_facing": "on",
        **fields,
    }


def test_two_people_place_and_confirm_a_network_wide_hold(
    node: Container, browser_client: TestClient, other_client: TestClient, clock: ManualClock
) -> None:
    """The placer sees "waiting for a second person" and no confirm button; forcing the
    confirmation is refused by the use case; a second ops user confirms and items are held."""
    goods, letter = letters(node, 1, 1)
    accept_items(node, [goods.id, letter.id])
    olga = signed_in(node, browser_client, "olga", "ops", clock, site=None)
    signed_in(node, other_client, "otto", "ops", clock, site=None)
    form = place_form(browser_client, destinations=["US"], goods_only="on")
    r = browser_client.post("/console/holds", data=form)
    assert r.status_code == 303, r.text
    hold_url = r.headers["location"]
    mine = browser_client.get(hold_url)
    assert "Waiting for a second person to confirm" in mine.text
    assert "You placed this hold: a different operations user must confirm it." in mine.text
    assert not any(a.endswith("/confirm") for a in post_forms(mine.text))
    assert "olga" in mine.text  # placed by, by name
    forced = browser_client.post(f"{hold_url}/confirm", data={"csrf_token": csrf_of(mine.text)})
    assert forced.status_code == 403
    assert "two-person rule" in forced.text
    assert item_state(node, goods.id) == "accepted"
    theirs = other_client.get(hold_url)
    assert f"{hold_url}/confirm" in post_forms(theirs.text)
    ok = other_client.post(f"{hold_url}/confirm", data={"csrf_token": csrf_of(theirs.text)})
    assert ok.status_code == 303
    after = other_client.get(hold_url)
    assert "Waiting for a second person" not in after.text
    assert re.search(r"Confirmed by</dt><dd>otto", after.text)
    assert item_state(node, goods.id) == "held"
    assert item_state(node, letter.id) == "accepted"  # documents only: not in scope
    (hold,) = list_holds(node.ctx, staff(node, "auditor", site=None).principal)
    assert hold.placed_by["id"] == olga.record.id


def test_a_staged_release_asks_the_second_person_each_time(
    node: Container, browser_client: TestClient, other_client: TestClient, clock: ManualClock
) -> None:
    """A network-wide hold released one service first, then the rest: each stage waits for
    a different ops user, and the page says so."""
    items = letters(node, 1, 1)
    accept_items(node, [i.id for i in items])
    signed_in(node, browser_client, "olga", "ops", clock, site=None)
    signed_in(node, other_client, "otto", "ops", clock, site=None)
    placed = browser_client.post("/console/holds", data=place_form(browser_client, emergency="on"))
    hold_url = placed.headers["location"]
    page = browser_client.get(hold_url)
    assert page.text.count("/console/holds/") and 'id="held-count">2<' in page.text
    svc = items[0].service
    r = browser_client.post(
        f"{hold_url}/release",
        data={
            "csrf_token": csrf_of(page.text),
            "what": "services",
            "services": [svc],
            "reason": "tracked letters first",
        },
    )
    assert r.status_code == 303
    waiting = browser_client.get(r.headers["location"])
    assert "Release waiting for a second person to confirm" in waiting.text
    assert "You asked for this release" in waiting.text
    theirs = other_client.get(hold_url)
    assert (
        other_client.post(
            f"{hold_url}/confirm", data={"csrf_token": csrf_of(theirs.text)}
        ).status_code
        == 303
    )
    stage_one = other_client.get(hold_url)
    released = [i for i in items if i.service == svc]
    assert re.search(rf'id="released-count">{len(released)}<', stage_one.text)
    rest = other_client.post(
        f"{hold_url}/release",
        data={"csrf_token": csrf_of(stage_one.text), "what": "all", "reason": "all clear"},
    )
    assert rest.status_code == 303
    confirm_page = browser_client.get(hold_url)
    browser_client.post(f"{hold_url}/confirm", data={"csrf_token": csrf_of(confirm_page.text)})
    assert "released" in browser_client.get(hold_url).text
    assert {item_state(node, i.id) for i in items} == {"accepted"}


def test_releasing_no_ticked_service_releases_nothing(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """The services choice with no service ticked must not mean "everything"."""
    (item,) = letters(node, 1, 0)
    accept_items(node, [item.id])
    signed_in(node, browser_client, "sam", "supervisor", clock)
    r = browser_client.post("/console/holds", data=place_form(browser_client))
    assert r.status_code == 303, r.text
    hold_url = r.headers["location"]
    page = browser_client.get(hold_url)
    before = head(node)
    bad = browser_client.post(
        f"{hold_url}/release",
        data={"csrf_token": csrf_of(page.text), "what": "services", "reason": "x"},
    )
    assert bad.status_code == 422
    assert "tick at least one service" in bad.text
    assert head(node) == before
    assert item_state(node, item.id) == "held"


def test_a_form_without_its_csrf_token_is_403_and_writes_nothing(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    signed_in(node, browser_client, "olga", "ops", clock, site=None)
    before = head(node)
    form = place_form(browser_client, sites=[SITE])
    del form["csrf_token"]
    for url, data in (
        ("/console/holds", form),
        ("/console/advisories/adv_0123456789abcdef0123/updates", {"text": "x"}),
        ("/console/network/alarms/1/clear", {"reason": "looked at it"}),
    ):
        r = browser_client.post(url, data=data)
        assert r.status_code == 403, url
        r = browser_client.post(url, data={**data, "csrf_token": "forged"})
        assert r.status_code == 403, url
    assert head(node) == before


def test_an_auditor_sees_every_operations_page_without_a_form(
    node: Container, browser_client: TestClient, other_client: TestClient, clock: ManualClock
) -> None:
    signed_in(node, other_client, "olga", "ops", clock, site=None)
    placed = other_client.post("/console/holds", data=place_form(other_client, sites=[SITE]))
    assert placed.status_code == 303
    replication(node).state.raise_alarm(SITE, 3, "fork", "two histories", format_time(clock.now()))
    signed_in(node, browser_client, "audrey", "auditor", clock, site=None)
    for url in (*OPS_PAGES, placed.headers["location"]):
        r = browser_client.get(url)
        assert r.status_code == 200, url
        assert post_forms(r.text) == [], url
    assert "Clear alarm" not in browser_client.get("/console/network").text
    (alarm,) = replication(node).state.alarms()
    forced = browser_client.post(
        f"/console/network/alarms/{alarm.id}/clear",
        data={
            "csrf_token": csrf_of(browser_client.get("/console/audit").text),
            "reason": "auditors cannot",
        },
    )
    assert forced.status_code == 403
    assert len(replication(node).state.alarms()) == 1


def test_a_clerk_cannot_open_operations_pages(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    signed_in(node, browser_client, "clara", "clerk", clock)
    for url in (
        *OPS_PAGES,
        "/console/holds/preview",
        "/console/network/fragment",
        "/console/advisories/preview",
    ):
        r = browser_client.get(url)
        assert r.status_code == 403, url
        assert "not for the clerk role" in r.text


def test_a_supervisor_holds_only_their_own_site(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """The form offers only the supervisor's site; a forged other site is refused."""
    signed_in(node, browser_client, "sam", "supervisor", clock)
    page = browser_client.get("/console/holds")
    assert f'name="sites" value="{SITE}"' in page.text
    assert 'type="checkbox" name="sites"' not in page.text
    assert "Emergency" not in page.text
    before = head(node)
    r = browser_client.post("/console/holds", data=place_form(browser_client, sites=["GBBHXA"]))
    assert r.status_code == 403
    assert "own site only" in r.text
    assert head(node) == before
    assert browser_client.post("/console/holds", data=place_form(browser_client)).status_code == 303


def test_the_preview_counts_the_items_a_scope_would_hold(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    goods, letter = letters(node, 1, 1)
    accept_items(node, [goods.id, letter.id])
    signed_in(node, browser_client, "olga", "ops", clock, site=None)
    every = browser_client.get("/console/holds/preview")
    assert 'id="preview-count">2<' in every.text
    narrow = browser_client.get("/console/holds/preview?goods_only=on&destinations=US")
    assert 'id="preview-count">1<' in narrow.text
    bad = browser_client.get("/console/holds/preview?destinations=XX")
    assert "preview-count" not in bad.text and "scope.destinations[0]" in bad.text


def test_a_bad_hold_form_is_shown_again_with_every_rule(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    signed_in(node, browser_client, "olga", "ops", clock, site=None)
    before = head(node)
    r = browser_client.post(
        "/console/holds", data=place_form(browser_client, reason="", advisory="")
    )
    assert r.status_code == 422
    assert "The hold was not placed" in r.text
    assert "<strong>reason</strong>" in r.text and "<strong>advisory</strong>" in r.text
    assert head(node) == before


def test_advisories_are_updated_and_resolved_with_a_live_preview(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    signed_in(node, browser_client, "olga", "ops", clock, site=None)
    browser_client.post("/console/holds", data=place_form(browser_client, sites=[SITE]))
    page = browser_client.get("/console/advisories")
    adv = re.search(r'id="edit-(adv_[0-9a-f]{20})"', page.text)
    assert adv is not None
    advisory_id = adv.group(1)
    assert "Goods to the US wait at the site." in page.text  # in the list and the preview
    assert "Some export services are affected" in page.text
    preview = browser_client.get(
        "/console/advisories/preview",
        params={
            "advisory_id": advisory_id,
            "text": "Letters <b>resume</b> at noon.",
            "mode": "update",
        },
    )
    assert "Letters &lt;b&gt;resume&lt;/b&gt; at noon." in preview.text
    assert "Updates" in preview.text
    r = browser_client.post(
        f"/console/advisories/{advisory_id}/updates",
        data={"csrf_token": csrf_of(page.text), "text": "Noon."},
    )
    assert r.status_code == 303
    assert "Noon." in browser_client.get("/status").text
    resolved = browser_client.post(
        f"/console/advisories/{advisory_id}/resolve",
        data={"csrf_token": csrf_of(page.text), "text": "Over."},
    )
    assert resolved.status_code == 303
    status = browser_client.get("/status").text
    assert "All export services are running normally." in status
    assert "Over." in status
    again = browser_client.post(
        f"/console/advisories/{advisory_id}/updates",
        data={"csrf_token": csrf_of(page.text), "text": "More."},
    )
    assert again.status_code == 409


def test_the_audit_page_names_actors_filters_and_pages(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    olga = signed_in(node, browser_client, "olga", "ops", clock, site=None)
    for n in range(3):
        clock.advance(seconds=1)
        browser_client.post(
            "/console/holds",
            data=place_form(
                browser_client, sites=[SITE], services=[["tracked", "signed", "parcel"][n]]
            ),
        )
    page = browser_client.get("/console/audit", params={"actor": "olga", "action": "hold.*"})
    assert page.status_code == 200
    rows = re.findall(r'<strong class="who">([^<]+)</strong>', page.text)
    assert rows == ["olga"] * 3
    assert olga.record.id in page.text
    by_site = browser_client.get("/console/audit", params={"site": "GBBHXA"})
    assert "No entries match." in by_site.text
    for params, rule in (
        ({"site": "NOWHERE"}, "unknown_site"),
        ({"since": "yesterday"}, "rfc3339"),
        ({"actor": "a\x01b"}, "control_characters"),
    ):
        bad = browser_client.get("/console/audit", params=params)
        assert bad.status_code == 422
        assert f"({rule})" in bad.text
    from postex.incidents.pages import audit as audit_page

    small = audit_page.PAGE_SIZE
    audit_page.PAGE_SIZE = 2
    try:
        first = browser_client.get("/console/audit", params={"action": "hold.placed"})
        assert len(re.findall(r'class="who"', first.text)) == 2
        nxt = re.search(r'<a href="([^"]+)" rel="next">', first.text)
        assert nxt is not None
        second = browser_client.get(nxt.group(1).replace("&amp;", "&"))
        assert len(re.findall(r'class="who"', second.text)) == 1
        assert "Newest entries" in second.text
    finally:
        audit_page.PAGE_SIZE = small


def test_network_health_on_a_single_node(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """One node: itself, no replication, its checkpoint, acceptances per hour as a chart;
    an alarm cleared by ops with a reason goes to the audit trail as them."""
    items = letters(node, 2, 1)
    accept_items(node, [i.id for i in items])
    node.admin.checkpoint_now(SITE)
    state = replication(node).state
    state.raise_alarm(SITE, 2, "fork", "two histories", format_time(clock.now()))
    signed_in(node, browser_client, "olga", "ops", clock, site=None)
    page = browser_client.get("/console/network")
    assert page.status_code == 200
    assert "this node" in page.text
    assert "none: this node does not replicate" in page.text
    assert "3 items accepted in the last 24 hours" in page.text
    assert "<svg" in page.text and 'class="bar"' in page.text
    assert "style=" not in page.text  # the CSP allows no inline style
    assert re.search(r"Last checkpoint</dt>\s*<dd>event \d+, signed", page.text)
    fragment = browser_client.get("/console/network/fragment")
    assert fragment.text.startswith('<div id="health" hx-get="/console/network/fragment"')
    assert 'hx-trigger="every 30s"' in fragment.text
    (alarm,) = state.alarms()
    assert f"Alarm {alarm.id}: fork" in fragment.text
    assert "/clear" not in fragment.text  # a refresh never wipes a reason being typed
    short = browser_client.post(
        f"/console/network/alarms/{alarm.id}/clear",
        data={"csrf_token": csrf_of(page.text), "reason": "x"},
    )
    assert short.status_code == 422
    r = browser_client.post(
        f"/console/network/alarms/{alarm.id}/clear",
        data={"csrf_token": csrf_of(page.text), "reason": "INC-7: replayed from the hub"},
    )
    assert r.status_code == 303
    assert state.alarms() == []
    audit = browser_client.get("/console/audit", params={"action": "integrity.*"})
    assert "INC-7: replayed from the hub" in audit.text
    assert re.findall(r'<strong class="who">([^<]+)</strong>', audit.text) == ["olga"]


def test_the_refreshing_fragment_does_not_keep_a_session_alive(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """Polls every 30 s are not activity: 31 idle minutes after the last real request the
    poll is sent to sign in, as any page would be."""
    signed_in(node, browser_client, "olga", "ops", clock, site=None)
    browser_client.get("/console/network")
    for _ in range(3):
        clock.advance(minutes=10)
        assert browser_client.get("/console/network/fragment").status_code == 200
    clock.advance(minutes=1, seconds=1)
    r = browser_client.get("/console/network/fragment", headers={"HX-Request": "true"})
    assert (r.status_code, r.headers.get("HX-Redirect")) == (204, "/console/sign-in")


def test_the_hold_form_previews_the_new_advisory_on_the_status_page(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """While a hold is being placed, its advisory is shown as /status would show it; a
    supervisor (who has no advisories page) gets the preview too."""
    signed_in(node, browser_client, "sam", "supervisor", clock)
    params = {"mode": "new", "advisory": "Parcels to <Canada> wait.", "destinations": "CA",
              "services": "parcel", "sites": SITE}  # fmt: skip
    r = browser_client.get("/console/advisories/preview", params=params)
    assert r.status_code == 200
    assert "Parcels to &lt;Canada&gt; wait." in r.text
    assert "Canada (CA)" in r.text and "Some export services are affected" in r.text
    bad = browser_client.get("/console/advisories/preview", params={**params, "services": "x"})
    assert "scope.services[0]" in bad.text
    assert browser_client.get("/console/advisories/preview").status_code == 403
    assert browser_client.get("/console/advisories").status_code == 403


def test_an_unconfirmed_release_lapses_and_the_release_form_comes_back(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    (item,) = letters(node, 1, 0)
    accept_items(node, [item.id])
    signed_in(node, browser_client, "olga", "ops", clock, site=None)
    hold_url = browser_client.post(
        "/console/holds", data=place_form(browser_client, emergency="on")
    ).headers["location"]
    page = browser_client.get(hold_url)
    browser_client.post(
        f"{hold_url}/release",
        data={"csrf_token": csrf_of(page.text), "what": "all", "reason": "over"},
    )
    assert "Release waiting for a second person" in browser_client.get(hold_url).text
    clock.advance(minutes=16)
    lapsed = browser_client.get(hold_url)
    assert "Release waiting for a second person" not in lapsed.text
    assert f"{hold_url}/release" in post_forms(lapsed.text)
