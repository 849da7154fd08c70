"""Portal API keys: the account's keys (prefix and dates only), a new key, rotate, revoke.

The secret of a new or rotated key is shown once, on the answer to the form that made it;
only its hash is kept. Every action goes through ``accounts.app.api_keys`` with the
session's customer: a key id of another account is refused as missing.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from postex.accounts.app.api_keys import create_key, list_keys, revoke_key, rotate_key
from postex.accounts.app.sessions import Session
from postex.web.console import container
from postex.web.portal import PATH, changing, customer_of, guarded, page, session_of

router = APIRouter(prefix=PATH)


def _page(request: Request, session: Session, status: int = 200, **shown: str) -> Response:
    keys = list_keys(container(request).ctx, customer_of(session))
    return page(request, "items/api_keys.html", session, status, keys=keys,
                secret=shown.get("secret", ""), notice=shown.get("notice", ""))  # fmt: skip


@router.get("/api-keys")
def keys_page(request: Request) -> Response:
    return guarded(request, lambda: _page(request, session_of(request)))


@router.post("/api-keys")
def new_key(request: Request, csrf_token: str = Form("")) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        made = create_key(container(request).ctx, customer_of(session),
                          session.principal().actor())  # fmt: skip
        return _page(request, session, 201, secret=made.api_key,
                     notice=f"New key {made.info.prefix}.")  # fmt: skip

    return guarded(request, answer)


@router.post("/api-keys/rotate")
def rotate(request: Request, csrf_token: str = Form(""), key_id: str = Form("")) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        done = rotate_key(container(request).ctx, customer_of(session),
                          session.principal().actor(), key_id, "rotated in the portal")  # fmt: skip
        return _page(request, session, secret=done.api_key,
                     notice=f"Key pxk_{done.revoked_key_id} is revoked; its successor is "
                     f"pxk_{done.new_key_id}.")  # fmt: skip

    return guarded(request, answer)


@router.post("/api-keys/revoke")
def revoke(request: Request, csrf_token: str = Form(""), key_id: str = Form("")) -> Response:
    def answer() -> Response:
        session = changing(request, csrf_token)
        gone = revoke_key(container(request).ctx, customer_of(session), key_id,
                          session.principal().actor(), "revoked in the portal")  # fmt: skip
        return _page(request, session, notice=f"Key {gone.prefix} is revoked.")

    return guarded(request, answer)
