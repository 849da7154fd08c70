"""Helpers for console tests: staff with passwords, sign-in, CSRF, TOTP codes."""

from __future__ import annotations

import re

import pyotp
from fastapi.testclient import TestClient
from httpx import Response

from postex.accounts.app.staff import CreatedUser, create_user
from postex.bootstrap import Container
from tests.factories import ManualClock

PASSWORD = "correct horse battery"
SITE = "GBLALA"


def user(node: Container, name: str, role: str, site: str | None = SITE) -> CreatedUser:
    return create_user(node.ctx, name, role, site, password=PASSWORD)


def post_sign_in(client: TestClient, name: str, password: str = PASSWORD) -> Response:
    """Open the sign-in page (its CSRF cookie and token) and post the form as a browser does."""
    form = client.get("/console/sign-in")
    assert form.status_code == 200, form.text
    data = {"username": name, "password": password, "csrf_token": csrf_of(form.text)}
    return client.post("/console/sign-in", data=data)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Post the sign-in form; the address it sends the browser to next."""
    r = post_sign_in(client, name, password)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def totp_code(html: str, clock: ManualClock) -> str:
    """The current code for the key an enrolment page shows."""
    found = re.search(r"<code>([A-Z2-7]+)</code>", html)
    assert found is not None, html
    return pyotp.TOTP(found.group(1)).at(clock.now())


def sign_in_enrolling(client: TestClient, name: str, clock: ManualClock) -> None:
    """Sign in a user who must enrol a second factor at first sign-in (supervisor, ops)."""
    assert sign_in(client, name) == "/console/totp/enrol"
    enrol = client.get("/console/totp/enrol")
    r = client.post(
        "/console/totp/enrol",
        data={"code": totp_code(enrol.text, clock), "csrf_token": csrf_of(enrol.text)},
    )
    assert r.status_code == 200, r.text


def signed_in(
    node: Container, client: TestClient, name: str, role: str, clock: ManualClock,
    site: str | None = SITE,
) -> CreatedUser:  # fmt: skip
    """A new user signed in on ``client``: password, then the TOTP enrolment a role that
    needs a second factor is sent to (its first code computed on the node's clock)."""
    created = user(node, name, role, site)
    where = sign_in(client, name)
    if where == "/console/totp/enrol":
        enrol = client.get(where)
        r = client.post(
            where, data={"code": totp_code(enrol.text, clock), "csrf_token": csrf_of(enrol.text)}
        )
        assert r.status_code == 200, r.text
    return created
