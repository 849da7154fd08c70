"""Staff administration in the console: the users list, disabling and re-enabling, ending
sessions; and the sign-in hardening around it (the sign-in form's CSRF token, TOTP replay,
re-enrolment, fixation at the second factor, the clean-up chore, Secure behind a proxy)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from postex.accounts.app.sessions import cleanup_chore, digest
from postex.accounts.sql.sessions import SqlTotpSteps
from postex.bootstrap import Container, chores
from postex.server import create_app
from postex.web.console import COOKIE
from tests.console.helpers import PASSWORD, SITE, csrf_of, post_sign_in, sign_in, user
from tests.console.test_sign_in import ACCEPT, HOST, audits, head
from tests.factories import ManualClock

USERS = "/console/users"


def enrol(client: TestClient, name: str, clock: ManualClock) -> str:
    """Sign ``name`` in for the first time and enrol a second factor; the TOTP secret."""
    assert sign_in(client, name) == "/console/totp/enrol"
    page = client.get("/console/totp/enrol")
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page.text)
    assert secret is not None
    code = pyotp.TOTP(secret.group(1)).at(clock.now())
    done = client.post("/console/totp/enrol", data={"code": code, "csrf_token": csrf_of(page.text)})
    assert done.status_code == 200, done.text
    return secret.group(1)


def give_code(client: TestClient, code: str) -> int:
    ask = client.get("/console/sign-in/code")
    r = client.post("/console/sign-in/code", data={"code": code, "csrf_token": csrf_of(ask.text)})
    return r.status_code


@pytest.fixture
def other_client(node: Container) -> Iterator[TestClient]:
    """A second browser (another person at another PC)."""
    with TestClient(create_app(node), follow_redirects=False) as c:
        yield c


def test_an_admin_lists_users_with_state_factor_last_sign_in_and_sessions(
    node: Container, browser_client: TestClient, other_client: TestClient, clock: ManualClock
) -> None:
    """The list shows every user; a signed-in clerk has one session and a last sign-in."""
    user(node, "ada", "admin", site=None)
    user(node, "clara", "clerk")
    user(node, "sam", "supervisor")
    enrol(browser_client, "ada", clock)
    sign_in(other_client, "clara")
    home = browser_client.get("/console")
    assert (home.status_code, home.headers["location"]) == (303, USERS)
    page = browser_client.get(USERS)
    assert page.status_code == 200
    rows = re.findall(r"<tr[^>]*>\s*<th scope=\"row\">(.*?)</tr>", page.text, re.S)
    assert len(rows) == 3
    ada, clara, sam = rows
    assert "ada" in ada and "Enrolled" in ada and "all sites" in ada
    assert "clara" in clara and "GBLALA" in clara and "Enabled" in clara
    assert re.search(r'class="num">1</td>', clara)  # clara's one live session
    assert "never" in sam and re.search(r'class="num">0</td>', sam)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", clara)  # her last sign-in


@pytest.mark.parametrize("role", ["clerk", "supervisor", "ops", "auditor"])
def test_users_pages_are_403_for_every_role_but_admin(
    node: Container, browser_client: TestClient, clock: ManualClock, role: str
) -> None:
    """As in the API (rule ``role``): the page is forbidden, and a forged disable with the
    user's own valid CSRF token writes nothing."""
    user(node, "clara", "clerk")
    user(node, "someone", role, site=SITE if role in ("clerk", "supervisor") else None)
    if role == "clerk":
        sign_in(browser_client, "someone")
    else:
        enrol(browser_client, "someone", clock)
    token = csrf_of(browser_client.get("/console/totp/enrol").text)
    assert browser_client.get(USERS).status_code == 403
    assert browser_client.get(f"{USERS}/clara").status_code == 403
    before = head(node)
    r = browser_client.post(f"{USERS}/clara/disable", data={"reason": "x", "csrf_token": token})
    assert r.status_code == 403
    assert head(node) == before
    assert 'href="/console/users"' not in browser_client.get("/console/totp/enrol").text


def test_disabling_a_signed_in_clerk_ends_her_session_and_token_at_once(
    node: Container, browser_client: TestClient, other_client: TestClient, clock: ManualClock
) -> None:
    """Her next scan page sends her to sign-in, her session rows are gone, her API token is
    refused, she cannot sign in again; enabling gives the token back, not the session."""
    ada = user(node, "ada", "admin", site=None)
    clara = user(node, "clara", "clerk")
    bearer = {"Authorization": f"Bearer {clara.token}"}
    api = f"/api/v1/sites/{SITE}/receptacles"
    assert other_client.get(api, headers=bearer).status_code == 200
    sign_in(other_client, "clara")
    assert other_client.get(ACCEPT).status_code == 200
    enrol(browser_client, "ada", clock)
    page = browser_client.get(f"{USERS}/clara")
    assert "Disable and end sessions" in page.text
    r = browser_client.post(
        f"{USERS}/clara/disable",
        data={"reason": "left the company", "csrf_token": csrf_of(page.text)},
    )
    assert (r.status_code, r.headers["location"]) == (303, f"{USERS}/clara?done=disabled")
    after = browser_client.get(r.headers["location"])
    assert "Disabled" in after.text and "left the company" in after.text
    assert "No live sessions" in after.text

    nxt = other_client.get(ACCEPT)
    assert (nxt.status_code, nxt.headers["location"]) == (303, "/console/sign-in")
    assert node.console.sessions.for_user(clara.record.id) == []
    assert other_client.get(api, headers=bearer).status_code == 401
    refused = post_sign_in(other_client, "clara")
    assert refused.status_code == 401 and "disabled" in refused.text

    events = [e for e in node.store.read_events(SITE) if e.type == "staff.disabled.v1"]
    assert len(events) == 1
    assert events[0].data["user_id"] == clara.record.id
    assert events[0].data["reason"] == "left the company"
    assert events[0].data["actor"]["id"] == ada.record.id
    trail = audits(node)
    assert ("staff.disabled", clara.record.id) in trail
    assert ("staff.sessions_ended", clara.record.id) in trail

    page = browser_client.get(f"{USERS}/clara")
    r = browser_client.post(
        f"{USERS}/clara/enable", data={"reason": "came back", "csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 303
    assert ("staff.enabled", clara.record.id) in audits(node)
    assert other_client.get(api, headers=bearer).status_code == 200
    assert other_client.get(ACCEPT).status_code == 303  # the session stays ended
    assert sign_in(other_client, "clara") == "/console"


def test_a_session_opened_as_the_user_is_disabled_opens_nothing(
    node: Container, other_client: TestClient
) -> None:
    """A session row written after the disabling (a sign-in racing it) is refused too."""
    from postex.accounts.app.staff_admin import CLI_ADMIN, disable_user

    clara = user(node, "clara", "clerk")
    sign_in(other_client, "clara")
    token = other_client.cookies.get(COOKIE, domain=HOST, path="/console")
    assert token is not None
    session = node.console.sessions.get(digest(token))
    assert session is not None
    disable_user(node.console, CLI_ADMIN, "clara", "test")
    node.console.sessions.add(session)  # as if written a moment after the disabling
    assert node.console.sessions.get(digest(token)) is None
    assert other_client.get(ACCEPT).status_code == 303
    assert clara.record.id  # (the user still exists, disabled)


def test_an_admin_cannot_disable_themself_and_a_reason_is_required(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    user(node, "ada", "admin", site=None)
    user(node, "clara", "clerk")
    enrol(browser_client, "ada", clock)
    own = browser_client.get(f"{USERS}/ada")
    assert "your own account" in own.text and "/disable" not in own.text
    before = head(node)
    r = browser_client.post(
        f"{USERS}/ada/disable", data={"reason": "oops", "csrf_token": csrf_of(own.text)}
    )
    assert r.status_code == 403
    assert "cannot disable your own account" in r.text
    r = browser_client.post(
        f"{USERS}/clara/disable", data={"reason": "  ", "csrf_token": csrf_of(own.text)}
    )
    assert r.status_code == 422
    assert head(node) == before
    form = {"reason": "x", "csrf_token": csrf_of(own.text)}
    missing = browser_client.post(f"{USERS}/nobody/disable", data=form)
    assert missing.status_code == 404
    no_csrf = browser_client.post(f"{USERS}/clara/disable", data={"reason": "x"})
    assert no_csrf.status_code == 403
    assert head(node) == before


def test_an_admin_ends_one_session_or_all_of_them(
    node: Container, browser_client: TestClient, other_client: TestClient, clock: ManualClock
) -> None:
    clara = user(node, "clara", "clerk")
    user(node, "ada", "admin", site=None)
    sign_in(other_client, "clara")
    with TestClient(create_app(node), follow_redirects=False) as third:
        sign_in(third, "clara")
        enrol(browser_client, "ada", clock)
        page = browser_client.get(f"{USERS}/clara")
        handles = re.findall(r"<td><code>([0-9a-f]{12})</code></td>", page.text)
        assert len(handles) == 2
        third_token = third.cookies.get(COOKIE, domain=HOST, path="/console")
        assert third_token is not None
        handle = digest(third_token)[:12]
        assert handle in handles
        r = browser_client.post(
            f"{USERS}/clara/sessions/end",
            data={"session": handle, "reason": "lost handheld", "csrf_token": csrf_of(page.text)},
        )
        assert r.status_code == 303
        assert third.get(ACCEPT).status_code == 303
        assert other_client.get(ACCEPT).status_code == 200
        assert ("staff.session_ended", clara.record.id) in audits(node)
        page = browser_client.get(f"{USERS}/clara")
        r = browser_client.post(
            f"{USERS}/clara/sessions/end",
            data={"session": "", "reason": "end of shift", "csrf_token": csrf_of(page.text)},
        )
        assert r.status_code == 303
        assert other_client.get(ACCEPT).status_code == 303
        gone = browser_client.post(
            f"{USERS}/clara/sessions/end",
            data={"session": handle, "reason": "again", "csrf_token": csrf_of(page.text)},
        )
        assert gone.status_code == 404


# --- sign-in hardening -----------------------------------------------------------------------
def test_the_sign_in_form_without_its_token_is_403_and_counts_nothing(
    node: Container, browser_client: TestClient, other_client: TestClient
) -> None:
    """No token, a token from another browser's form, or a forged one: 403, nothing written,
    and wrong passwords sent that way do not count towards a lockout."""
    user(node, "clara", "clerk")
    before = head(node)
    for _ in range(6):
        r = browser_client.post("/console/sign-in", data={"username": "clara", "password": "no"})
        assert r.status_code == 403
    theirs = csrf_of(other_client.get("/console/sign-in").text)
    assert csrf_of(other_client.get("/console/sign-in").text) == theirs  # a second tab works
    browser_client.get("/console/sign-in")
    stolen = browser_client.post(
        "/console/sign-in", data={"username": "clara", "password": PASSWORD, "csrf_token": theirs}
    )
    assert stolen.status_code == 403
    forged = "1.abc.def"
    browser_client.cookies.set("postex_sign_in", forged, domain=HOST, path="/console")
    r = browser_client.post(
        "/console/sign-in", data={"username": "clara", "password": PASSWORD, "csrf_token": forged}
    )
    assert r.status_code == 403
    assert COOKIE not in browser_client.cookies
    assert head(node) == before
    assert sign_in(browser_client, "clara") == "/console"  # not locked: nothing was counted


def test_a_totp_code_signs_in_once_even_from_another_process(
    node: Container, browser_client: TestClient, other_client: TestClient, clock: ManualClock
) -> None:
    """A code seen over a shoulder cannot be replayed within its window; the last accepted
    step is in the database, so a fresh store object (another process) refuses it too."""
    sam = user(node, "sam", "supervisor")
    secret = enrol(browser_client, "sam", clock)
    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock.now())
    browser_client.cookies.clear()
    assert sign_in(browser_client, "sam") == "/console/sign-in/code"
    assert give_code(browser_client, code) == 303
    assert sign_in(other_client, "sam") == "/console/sign-in/code"
    assert give_code(other_client, code) == 401  # the same code again
    step = pyotp.TOTP(secret).timecode(clock.now())
    assert SqlTotpSteps(node.engine).use(sam.record.id, step) is False
    clock.advance(seconds=30)
    fresh = pyotp.TOTP(secret).at(clock.now())
    assert sign_in(other_client, "sam") == "/console/sign-in/code"
    assert give_code(other_client, fresh) == 303


def test_the_session_id_changes_at_the_second_factor(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """The id the password step gives is not the signed-in one (no fixation at either step)."""
    user(node, "sam", "supervisor")
    secret = enrol(browser_client, "sam", clock)
    browser_client.cookies.clear()
    clock.advance(seconds=30)
    sign_in(browser_client, "sam")
    halfway = browser_client.cookies.get(COOKIE, domain=HOST, path="/console")
    assert give_code(browser_client, pyotp.TOTP(secret).at(clock.now())) == 303
    signed_in = browser_client.cookies.get(COOKIE, domain=HOST, path="/console")
    assert halfway and signed_in and halfway != signed_in
    assert node.console.sessions.get(digest(halfway)) is None


def test_re_enrolling_needs_the_current_code(
    node: Container, browser_client: TestClient, clock: ManualClock
) -> None:
    """A session left open is not enough to replace someone's second factor."""
    sam = user(node, "sam", "supervisor")
    old = enrol(browser_client, "sam", clock)
    enrolments = len([e for e in node.store.read_events(SITE) if e.type.startswith("staff.totp")])
    clock.advance(seconds=30)
    page = browser_client.get("/console/totp/enrol")
    assert 'name="current"' in page.text
    new = re.search(r"<code>([A-Z2-7]+)</code>", page.text)
    assert new is not None
    data = {"code": pyotp.TOTP(new.group(1)).at(clock.now()), "csrf_token": csrf_of(page.text)}
    missing = browser_client.post("/console/totp/enrol", data=data)
    wrong = browser_client.post("/console/totp/enrol", data={**data, "current": "000000"})
    assert (missing.status_code, wrong.status_code) == (422, 422)
    assert "not your current code" in wrong.text
    after = [e for e in node.store.read_events(SITE) if e.type.startswith("staff.totp")]
    assert len(after) == enrolments
    ok = browser_client.post(
        "/console/totp/enrol", data={**data, "current": pyotp.TOTP(old).at(clock.now())}
    )
    assert ok.status_code == 200
    assert ("staff.totp_enrolled", sam.record.id) in audits(node)
    assert len([e for e in node.store.read_events(SITE) if e.type == "staff.totp_enrolled.v1"]) == 2


def test_the_clean_up_chore_deletes_expired_sessions_and_stale_throttle_rows(
    node: Container, browser_client: TestClient, other_client: TestClient, clock: ManualClock
) -> None:
    clara = user(node, "clara", "clerk")
    user(node, "carl", "clerk")
    sign_in(browser_client, "clara")
    post_sign_in(other_client, "carl", "wrong password")
    assert "console clean-up" in [c.name for c in chores(node)]  # serve and worker run it
    chore = cleanup_chore(node.console)
    assert chore() == 0  # nothing is old yet
    clock.advance(minutes=31)
    sign_in(other_client, "carl")  # a live one (and carl's failures are cleared)
    post_sign_in(other_client, "nobody", "x")  # a fresh failure stays
    clock.advance(minutes=1)
    assert chore() == 1  # clara's idle session
    assert node.console.sessions.for_user(clara.record.id) == []
    clock.advance(seconds=30)
    assert chore() == 0  # at most once a minute
    clock.advance(hours=25)
    assert chore() == 2  # carl's session is past 12 hours now; the failure is a day old
    assert node.console.throttle.locked_until("nobody") == 0


@pytest.mark.parametrize(("trusted", "secure"), [("*", True), ("10.9.9.9", False)])
def test_cookies_are_secure_behind_a_trusted_tls_proxy(
    node: Container, trusted: str, secure: bool
) -> None:
    """`serve` trusts X-Forwarded-Proto only from ``trusted_proxies`` (uvicorn's proxy
    headers): from a trusted proxy the request is https and both console cookies are Secure."""
    user(node, "clara", "clerk")
    app = ProxyHeadersMiddleware(create_app(node), trusted_hosts=trusted)
    with TestClient(app, follow_redirects=False) as client:  # type: ignore[arg-type]
        proto = {"X-Forwarded-Proto": "https"}
        form = client.get("/console/sign-in", headers=proto)
        assert ("secure" in form.headers["set-cookie"].lower()) is secure
        data = {"username": "clara", "password": PASSWORD, "csrf_token": csrf_of(form.text)}
        if secure:  # a Secure cookie is not sent back over the client's plain http
            client.cookies.set("postex_sign_in", data["csrf_token"], domain=HOST,
                               path="/console")  # fmt: skip
        r = client.post("/console/sign-in", data=data, headers=proto)
    assert r.status_code == 303
    cookies = [c for c in r.headers.get_list("set-cookie") if c.startswith(COOKIE)]
    assert ("secure" in cookies[0].lower()) is secure


def test_the_audit_trail_shows_every_sign_in_and_admin_step(
    node: Container, browser_client: TestClient, other_client: TestClient, clock: ManualClock
) -> None:
    """Sign-in, failure, lockout, sign-out, disable, enable and ended sessions, as an
    auditor reads them from the audit route (with the admin's reason)."""
    from postex.accounts.app.staff_admin import CLI_ADMIN, disable_user, enable_user, end_sessions
    from tests.factories import staff

    auditor = staff(node, "auditor", None, name="audrey")
    user(node, "clara", "clerk")
    user(node, "carl", "clerk")
    for _ in range(5):
        post_sign_in(other_client, "carl", "wrong")
    sign_in(browser_client, "clara")
    page = browser_client.get(ACCEPT)
    browser_client.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)})
    sign_in(browser_client, "clara")
    end_sessions(node.console, CLI_ADMIN, "clara", "shift over")
    sign_in(browser_client, "clara")
    disable_user(node.console, CLI_ADMIN, "clara", "on leave")
    enable_user(node.console, CLI_ADMIN, "clara", "back")
    r = browser_client.get("/api/v1/audit?action=staff.*&limit=500", headers=auditor.headers)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    actions = {e["action"] for e in entries}
    assert {
        "staff.signed_in",
        "staff.sign_in_failed",
        "staff.locked_out",
        "staff.signed_out",
        "staff.sessions_ended",
        "staff.disabled",
        "staff.enabled",
    } <= actions
    disabled = next(e for e in entries if e["action"] == "staff.disabled")
    assert disabled["reason"] == "on leave"
