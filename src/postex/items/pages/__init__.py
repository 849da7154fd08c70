"""The sender portal (``/portal``): a business customer's users in the browser.

Sign-in shares the console's sessions, throttle and TOTP (``web.portal``); every page acts
as the session's customer through the same use cases as the customer API (``items.app``),
so another customer's item is the same 404 page as a missing one. Pages stay out of
OpenAPI.
"""

from __future__ import annotations

from fastapi import APIRouter

from postex.items.pages import api_keys, items, labels, manifests, sign_in

router = APIRouter(include_in_schema=False)
for _part in (sign_in, items, manifests, labels, api_keys):
    router.include_router(_part.router)
