"""API keys in the portal: a new key shown once and working, rotate, revoke, and another
account's key refused as missing."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from postex.accounts.app.api_keys import list_keys
from postex.bootstrap import Container
from tests.factories import SITE
from tests.portal.helpers import csrf_of, portal_sign_in, sender

KEY = re.compile(r"<code>(pxk_[0-9a-f]+_[A-Za-z0-9_-]+)</code>")


def test_create_rotate_and_revoke_keys(node: Container, browser_client: TestClient) -> None:
    anna = sender(node, "Thistle & Thread Ltd", "anna")
    portal_sign_in(browser_client, "anna")
    page = browser_client.get("/portal/api-keys")
    assert page.status_code == 200
    assert not KEY.search(page.text)  # the account's first key is never shown again
    csrf = csrf_of(page.text)
    made = browser_client.post("/portal/api-keys", data={"csrf_token": csrf})
    assert made.status_code == 201
    secret = KEY.search(made.text)
    assert secret is not None
    api = browser_client.get("/api/v1/items", headers={"Authorization": f"Bearer {secret[1]}"})
    assert api.status_code == 200
    assert not KEY.search(browser_client.get("/portal/api-keys").text)  # shown once

    key_id = secret[1].split("_")[1]
    rotated = browser_client.post("/portal/api-keys/rotate",
                                  data={"csrf_token": csrf, "key_id": key_id})  # fmt: skip
    successor = KEY.search(rotated.text)
    assert rotated.status_code == 200 and successor is not None
    auth = {"Authorization": f"Bearer {secret[1]}"}
    assert browser_client.get("/api/v1/items", headers=auth).status_code == 401
    new_id = successor[1].split("_")[1]
    gone = browser_client.post("/portal/api-keys/revoke",
                               data={"csrf_token": csrf, "key_id": new_id})  # fmt: skip
    assert gone.status_code == 200
    auth = {"Authorization": f"Bearer {successor[1]}"}
    assert browser_client.get("/api/v1/items", headers=auth).status_code == 401
    states = {k.key_id: k.active for k in list_keys(node.ctx, anna.customer_id)}
    assert states[key_id] is False and states[new_id] is False


def test_another_accounts_key_is_missing_and_a_forged_form_writes_nothing(
    node: Container, browser_client: TestClient
) -> None:
    sender(node, "Thistle & Thread Ltd", "anna")
    bob = sender(node, "Brick Lane Books", "bob")
    [bobs] = list_keys(node.ctx, bob.customer_id)
    portal_sign_in(browser_client, "anna")
    page = browser_client.get("/portal/api-keys")
    assert bobs.key_id not in page.text
    csrf = csrf_of(page.text)
    before = node.store.head(SITE)[0]
    for action in ("rotate", "revoke"):
        r = browser_client.post(f"/portal/api-keys/{action}",
                                data={"csrf_token": csrf, "key_id": bobs.key_id})  # fmt: skip
        assert r.status_code == 404
    assert browser_client.post("/portal/api-keys", data={}).status_code == 403
    assert node.store.head(SITE)[0] == before
    assert list_keys(node.ctx, bob.customer_id)[0].active
