"""Console sign-in: passwords, lockout, TOTP, sessions, CSRF and sign-out, through the app."""

from __future__ import annotations

import re

import pyotp
import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.web.console import COOKIE
from tests.console.helpers import (
    PASSWORD,
    SITE,
    csrf_of,
    post_sign_in,
    sign_in,
    totp_code,
    user,
)
from tests.factories import ManualClock

ACCEPT = f"/console/sites/{SITE}/accept"
HOST = "testserver.local"  # where TestClient's cookies live


def audits(node: Container) -> list[tuple[str, str]]:
    """(action, target) of every audit event in the node's log, oldest first."""
    return [
        (e.data["action"], e.data["target"])
        for e in node.store.read_events(SITE)
        if e.type == "audit.recorded.v1"
    ]


def head(node: Container) -> int:
    return node.store.head(SITE)[0]


def test_a_clerk_signs_in_with_the_right_password_and_lands_on_acceptance(
    node: Container, browser_client: TestClient
) -> None:
    """Username and password open a session; the console sends a clerk to the scan page."""
    clara = user(node, "clara", "clerk")
    assert sign_in(browser_client, "clara") == "/console"
    r = browser_client.get("/console")
    assert (r.status_code, r.headers["location"]) == (303, ACCEPT)
    page = browser_client.get(ACCEPT)
    assert page.status_code == 200
    assert 'id="scan"' in page.text
    assert ("staff.signed_in", clara.record.id) in audits(node)


def test_the_session_cookie_is_httponly_and_strict(
    node: Container, browser_client: TestClient
) -> None:
    """The cookie cannot be read by scripts nor sent from another site's pages."""
    user(node, "clara", "clerk")
    r = post_sign_in(browser_client, "clara", PASSWORD)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/console" in cookie


def test_a_wrong_password_is_refused_and_audited(
    node: Container, browser_client: TestClient
) -> None:
    """A wrong password and an unknown name get the same answer, and both are audited
    (the unknown name itself is not written: it may be a password typed in the wrong field)."""
    clara = user(node, "clara", "clerk")
    wrong = post_sign_in(browser_client, "clara", "x")
    unknown = post_sign_in(browser_client, "nobody", "x")
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong username or password" in wrong.text
    assert "wrong username or password" in unknown.text
    assert COOKIE not in browser_client.cookies
    assert browser_client.get(ACCEPT).status_code == 303  # still signed out
    failed = [a for a in audits(node) if a[0] == "staff.sign_in_failed"]
    assert failed == [
        ("staff.sign_in_failed", clara.record.id),
        ("staff.sign_in_failed", "unknown"),
    ]
    assert not [e for e in node.store.read_events(SITE) if b"nobody" in e.body]


def test_five_failures_lock_the_name_for_fifteen_minutes(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """After five wrong passwords even the right one is refused, until 15 minutes pass."""
    clara = user(node, "clara", "clerk")
    for _ in range(5):
        r = post_sign_in(browser_client, "clara", "no")
        assert r.status_code == 401
    locked = post_sign_in(browser_client, "clara", PASSWORD)
    assert locked.status_code == 429
    assert "too many failed sign-ins" in locked.text
    assert ("staff.locked_out", clara.record.id) in audits(node)
    clock.advance(minutes=14)
    again = post_sign_in(browser_client, "clara", PASSWORD)
    assert again.status_code == 429
    clock.advance(minutes=2)
    assert sign_in(browser_client, "clara") == "/console"


def test_a_supervisor_must_enrol_totp_and_then_give_a_code_at_every_sign_in(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """Supervisors cannot reach any page on a password alone; enrolment seals the secret in
    the log, shows recovery codes once, and later sign-ins ask for the code."""
    sam = user(node, "sam", "supervisor")
    assert sign_in(browser_client, "sam") == "/console/totp/enrol"
    assert browser_client.get(ACCEPT).status_code == 303  # not signed in yet
    enrol = browser_client.get("/console/totp/enrol")
    assert enrol.status_code == 200
    assert "<svg" in enrol.text
    secret = re.search(r"<code>([A-Z2-7]+)</code>", enrol.text)
    assert secret is not None
    wrong = browser_client.post(
        "/console/totp/enrol", data={"code": "000000", "csrf_token": csrf_of(enrol.text)}
    )
    assert wrong.status_code == 422
    assert secret.group(1) in wrong.text  # the key already scanned stays
    done = browser_client.post(
        "/console/totp/enrol",
        data={"code": totp_code(enrol.text, clock), "csrf_token": csrf_of(wrong.text)},
    )
    assert done.status_code == 200
    codes = re.findall(r"<li>([0-9a-f]{4}-[0-9a-f]{4})</li>", done.text)
    assert len(codes) == 10
    for e in node.store.read_events(SITE):
        assert secret.group(1).encode() not in e.body  # sealed, never in clear
    assert browser_client.get(ACCEPT).status_code == 200

    page = browser_client.get(ACCEPT)
    browser_client.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert sign_in(browser_client, "sam") == "/console/sign-in/code"
    assert browser_client.get(ACCEPT).status_code == 303
    ask = browser_client.get("/console/sign-in/code")
    bad = browser_client.post(
        "/console/sign-in/code", data={"code": "123456", "csrf_token": csrf_of(ask.text)}
    )
    assert bad.status_code == 401
    clock.advance(seconds=30)  # the enrolment spent this time step's code
    right = pyotp.TOTP(secret.group(1)).at(clock.now())
    ok = browser_client.post(
        "/console/sign-in/code", data={"code": right, "csrf_token": csrf_of(ask.text)}
    )
    assert (ok.status_code, ok.headers["location"]) == (303, "/console")
    assert ("staff.totp_enrolled", sam.record.id) in audits(node)


def test_a_recovery_code_signs_in_once(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """A recovery code stands in for the TOTP code one time only."""
    user(node, "sam", "supervisor")
    sign_in(browser_client, "sam")
    enrol = browser_client.get("/console/totp/enrol")
    done = browser_client.post(
        "/console/totp/enrol",
        data={"code": totp_code(enrol.text, clock), "csrf_token": csrf_of(enrol.text)},
    )
    code = re.findall(r"<li>([0-9a-f]{4}-[0-9a-f]{4})</li>", done.text)[0]
    answers = []
    for _ in range(2):
        browser_client.cookies.clear()
        sign_in(browser_client, "sam")
        ask = browser_client.get("/console/sign-in/code")
        r = browser_client.post(
            "/console/sign-in/code", data={"code": code, "csrf_token": csrf_of(ask.text)}
        )
        answers.append(r.status_code)
    assert answers == [303, 401]


def test_a_missing_or_wrong_csrf_token_is_403_and_writes_nothing(
    node: Container, browser_client: TestClient
) -> None:
    """A scan or a sign-out without the session's token is refused before any write."""
    from tests.factories import letters

    user(node, "clara", "clerk")
    [item] = letters(node, 1, 0)
    sign_in(browser_client, "clara")
    before = head(node)
    scan = {"item_id": item.id, "weight_g": str(item.weight_g)}
    missing = browser_client.post(ACCEPT, data=scan)
    wrong = browser_client.post(ACCEPT, data={**scan, "csrf_token": "forged"})
    header = browser_client.post(ACCEPT, data=scan, headers={"X-CSRF-Token": "forged"})
    out = browser_client.post("/console/sign-out", data={})
    assert [r.status_code for r in (missing, wrong, header, out)] == [403, 403, 403, 403]
    assert head(node) == before
    assert browser_client.get(ACCEPT).status_code == 200  # still signed in
    token = csrf_of(browser_client.get(ACCEPT).text)
    ok = browser_client.post(ACCEPT, data=scan, headers={"X-CSRF-Token": token})
    assert 'data-outcome="accepted"' in ok.text
    assert head(node) > before


def test_signing_in_gives_a_new_session_id(node: Container, browser_client: TestClient) -> None:
    """An id planted in the browser before sign-in is not the one it gets (no fixation)."""
    user(node, "clara", "clerk")
    planted = "planted-by-an-attacker"
    browser_client.cookies.set(COOKIE, planted, domain=HOST, path="/console")
    sign_in(browser_client, "clara")
    fresh = browser_client.cookies.get(COOKIE, domain=HOST, path="/console")
    assert fresh and fresh != planted
    browser_client.cookies.set(COOKIE, planted, domain=HOST, path="/console")
    assert browser_client.get(ACCEPT).status_code == 303  # the planted id opens nothing
    sign_in(browser_client, "clara")
    assert browser_client.cookies.get(COOKIE, domain=HOST, path="/console") not in (fresh, planted)


def test_a_session_ends_after_thirty_idle_minutes_and_after_twelve_hours(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """Idle for over 30 minutes means signing in again; so does a 12-hour-old session."""
    user(node, "clara", "clerk")
    sign_in(browser_client, "clara")
    clock.advance(minutes=29)
    assert browser_client.get(ACCEPT).status_code == 200
    clock.advance(minutes=31)
    r = browser_client.get(ACCEPT)
    assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in")
    sign_in(browser_client, "clara")
    for _ in range(12 * 3):
        clock.advance(minutes=20)
        last = browser_client.get(ACCEPT)
    assert last.status_code == 200
    clock.advance(minutes=1)
    assert browser_client.get(ACCEPT).status_code == 303


def test_signing_out_revokes_the_session(node: Container, browser_client: TestClient) -> None:
    """After sign-out the old cookie opens nothing, even if replayed."""
    clara = user(node, "clara", "clerk")
    sign_in(browser_client, "clara")
    token = browser_client.cookies.get(COOKIE, domain=HOST, path="/console")
    page = browser_client.get(ACCEPT)
    out = browser_client.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert (out.status_code, out.headers["location"]) == (303, "/console/sign-in")
    browser_client.cookies.set(COOKIE, str(token), domain=HOST, path="/console")
    assert browser_client.get(ACCEPT).status_code == 303
    assert ("staff.signed_out", clara.record.id) in audits(node)


@pytest.mark.parametrize("other", ["GBLGWA", "XXNOPE"])
def test_another_sites_console_is_not_found_for_a_clerk(
    node: Container, browser_client: TestClient, other: str
) -> None:
    """A clerk's console shows only their own site: another one is 404, as in the API, and
    a scan posted there writes nothing."""
    from tests.factories import letters

    user(node, "clara", "clerk")
    [item] = letters(node, 1, 0)
    sign_in(browser_client, "clara")
    token = csrf_of(browser_client.get(ACCEPT).text)
    before = head(node)
    assert browser_client.get(f"/console/sites/{other}/accept").status_code == 404
    r = browser_client.post(
        f"/console/sites/{other}/accept",
        data={"item_id": item.id, "weight_g": str(item.weight_g), "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 404
    assert head(node) == before


def test_the_cookie_is_secure_when_the_console_is_reached_over_https(
    node: Container,
) -> None:
    """Over https the session cookie is marked Secure (never sent back over plain http)."""
    from postex.server import create_app

    user(node, "clara", "clerk")
    with TestClient(
        create_app(node), base_url="https://console.example", follow_redirects=False
    ) as tls:
        r = post_sign_in(tls, "clara")
    assert "secure" in r.headers["set-cookie"].lower()


def test_an_auditor_signs_in_with_a_code_and_lands_on_the_console_home(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """Auditors need a second factor too, and see no acceptance page they may not use."""
    user(node, "audrey", "auditor", site=None)
    assert sign_in(browser_client, "audrey") == "/console/totp/enrol"
    enrol = browser_client.get("/console/totp/enrol")
    browser_client.post(
        "/console/totp/enrol",
        data={"code": totp_code(enrol.text, clock), "csrf_token": csrf_of(enrol.text)},
    )
    home = browser_client.get("/console")
    assert home.status_code == 200
    assert "Acceptance" not in home.text
    assert browser_client.get(ACCEPT).status_code == 403
