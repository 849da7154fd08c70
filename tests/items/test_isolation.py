"""Isolation matrix: every route that takes an object id, for owner, other, anonymous, revoked.

The owner succeeds; another customer gets a 404 identical to the one for an id that does
not exist; a caller without a key or with a revoked key gets 401 whether or not the object
exists (authentication is decided before any lookup, so existence never leaks). The test
enumerates the app's routes: a new route with a path parameter fails
``test_every_id_route_is_in_the_matrix`` until it is added to one of the tables below.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from postex.accounts.app.api_keys import rotate_key
from postex.bootstrap import Container
from postex.kernel.ids import S10
from tests.factories import Caller, make_caller, new_items

Params = dict[str, str]
PATH_PARAM = re.compile(r"\{[^}]+\}")
MISSING_ITEM = str(S10("LA", 99_999_990, "GB"))


def cn22_item(node: Container, client: TestClient, owner: Caller) -> Params:
    return {"item_id": new_items(node, owner.id)[0].id}


def cn23_item(node: Container, client: TestClient, owner: Caller) -> Params:
    return {"item_id": new_items(node, owner.id, service="parcel")[0].id}


def webhook(node: Container, client: TestClient, owner: Caller) -> Params:
    body = {"url": "https://example.com/postex-hook"}
    created = client.post("/api/v1/webhooks", json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    return {"webhook_id": created.json()["id"]}


def webhook_delivery(node: Container, client: TestClient, owner: Caller) -> Params:
    params = webhook(node, client, owner)
    new_items(node, owner.id)  # its pre-advice event queues a delivery
    log = client.get(f"/api/v1/webhooks/{params['webhook_id']}/deliveries", headers=owner.headers)
    return {**params, "delivery_id": log.json()["deliveries"][0]["id"]}


@dataclass(frozen=True)
class Owned:
    """A route over a customer's own object: ``make`` creates one and returns path params."""

    make: Callable[[Container, TestClient, Caller], Params]
    ok: int
    missing: Params


NO_ITEM = {"item_id": MISSING_ITEM}
NO_WEBHOOK = {"webhook_id": "whk_00000000000000000000"}

# Routes over objects a customer owns: the full matrix applies.
CUSTOMER_ROUTES: dict[tuple[str, str], Owned] = {
    ("GET", "/api/v1/items/{item_id}"): Owned(cn22_item, 200, NO_ITEM),
    ("DELETE", "/api/v1/items/{item_id}"): Owned(cn22_item, 200, NO_ITEM),
    ("GET", "/api/v1/items/{item_id}/events"): Owned(cn22_item, 200, NO_ITEM),
    ("GET", "/api/v1/items/{item_id}/receipt"): Owned(cn22_item, 200, NO_ITEM),
    ("GET", "/api/v1/items/{item_id}/certificate.pdf"): Owned(cn22_item, 200, NO_ITEM),
    ("GET", "/api/v1/items/{item_id}/label.pdf"): Owned(cn22_item, 200, NO_ITEM),
    ("GET", "/api/v1/items/{item_id}/cn23.pdf"): Owned(cn23_item, 200, NO_ITEM),
    ("GET", "/api/v1/webhooks/{webhook_id}"): Owned(webhook, 200, NO_WEBHOOK),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): Owned(webhook, 204, NO_WEBHOOK),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): Owned(webhook, 200, NO_WEBHOOK),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}"): Owned(
        webhook_delivery, 200, {**NO_WEBHOOK, "delivery_id": "whd_00000000000000000000"}
    ),
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): Owned(
        webhook_delivery, 202, {**NO_WEBHOOK, "delivery_id": "whd_00000000000000000000"}
    ),
}

# Routes that are public by design (anyone holding the id), with the reason.
PUBLIC_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/tracking/{item_id}"): "public tracking by S10 id, no personal data",
    ("GET", "/track/{item_id}"): "public tracking page by S10 id, no personal data",
}

SITE = {"site": "GBLALA"}
# The transparency log's public routes, by site code: hashes only, the same for anyone.
PUBLIC_LOG_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/log/{site}/checkpoint"): "",
    ("GET", "/api/v1/log/{site}/proofs/inclusion"): "?seq=1&tree_size=1",
    ("GET", "/api/v1/log/{site}/proofs/consistency"): "?from=1&to=1",
    ("GET", "/api/v1/log/{site}/cosignatures"): "?tree_size=1",
}
HOLD = {"hold_id": "hld_00000000000000000000"}
ADVISORY = {"advisory_id": "adv_00000000000000000000"}
S9 = {**SITE, "rid": "GBLALAUSJFKAAUN61001100010000"}
S8 = {**SITE, "did": "GBLALAUSJFKAAUN61001"}
# Staff routes (sites, holds, advisories): a customer's key never gets a 2xx or a 5xx.
STAFF_ROUTES: dict[tuple[str, str], Params] = {
    ("POST", "/api/v1/sites/{site}/acceptances"): SITE,
    ("POST", "/api/v1/sites/{site}/transfers"): SITE,
    ("POST", "/api/v1/sites/{site}/transfers/received"): SITE,
    ("POST", "/api/v1/sites/{site}/receptacles"): SITE,
    ("GET", "/api/v1/sites/{site}/receptacles"): SITE,
    ("GET", "/api/v1/sites/{site}/receptacles/{rid}"): S9,
    ("GET", "/api/v1/sites/{site}/receptacles/{rid}/items"): S9,
    ("POST", "/api/v1/sites/{site}/receptacles/{rid}/items"): S9,
    ("DELETE", "/api/v1/sites/{site}/receptacles/{rid}/items/{item_id}"): {
        **S9, "item_id": MISSING_ITEM
    },
    ("POST", "/api/v1/sites/{site}/receptacles/{rid}/close"): S9,
    ("GET", "/api/v1/sites/{site}/receptacles/{rid}/cn35.pdf"): S9,
    ("POST", "/api/v1/sites/{site}/receptacles/{rid}/reopen"): S9,
    ("POST", "/api/v1/sites/{site}/despatches/{did}/receptacles/{rid}/remove"): {**S8, **S9},
    ("POST", "/api/v1/sites/{site}/items/{item_id}/return"): {**SITE, **NO_ITEM},
    ("POST", "/api/v1/advisories/{advisory_id}/resolve"): ADVISORY,
    ("POST", "/api/v1/sites/{site}/despatches"): SITE,
    ("GET", "/api/v1/sites/{site}/despatches"): SITE,
    ("GET", "/api/v1/sites/{site}/despatches/{did}"): S8,
    ("GET", "/api/v1/sites/{site}/despatches/{did}/receptacles"): S8,
    ("POST", "/api/v1/sites/{site}/despatches/{did}/close"): S8,
    ("POST", "/api/v1/sites/{site}/despatches/{did}/handover"): S8,
    ("GET", "/api/v1/sites/{site}/despatches/{did}/bill.pdf"): S8,
    ("GET", "/api/v1/sites/{site}/despatches/{did}/messages"): S8,
    ("GET", "/api/v1/sites/{site}/despatches/{did}/messages/{kind}"): {**S8, "kind": "predes"},
    ("GET", "/api/v1/holds/{hold_id}"): {"hold_id": "hld_00000000000000000000"},
    ("POST", "/api/v1/holds/{hold_id}/confirm"): {"hold_id": "hld_00000000000000000000"},
    ("POST", "/api/v1/holds/{hold_id}/release"): {"hold_id": "hld_00000000000000000000"},
    ("POST", "/api/v1/advisories/{advisory_id}/updates"): {
        "advisory_id": "adv_00000000000000000000"
    },
    ("GET", "/api/v1/failovers/{request_id}"): {"request_id": "fov_00000000000000000000"},
    ("POST", "/api/v1/failovers/{request_id}/confirm"): {
        "request_id": "fov_00000000000000000000"
    },
    ("POST", "/api/v1/failbacks/{request_id}/confirm"): {
        "request_id": "fov_00000000000000000000"
    },
}  # fmt: skip


# Console pages (cookie sessions, not bearer keys): without a console session they send
# the caller to sign-in, whatever key it holds (tests/console covers signed-in staff).
CONSOLE_ROUTES: dict[tuple[str, str], Params] = {
    ("GET", "/console/sites/{site}/accept"): SITE,
    ("POST", "/console/sites/{site}/accept"): SITE,
    ("GET", "/console/sites/{site}/bags"): SITE,
    ("POST", "/console/sites/{site}/bags"): SITE,
    ("GET", "/console/sites/{site}/bags/{rid}"): S9,
    ("GET", "/console/sites/{site}/bags/{rid}/cn35.pdf"): S9,
    ("POST", "/console/sites/{site}/bags/{rid}/close"): S9,
    ("POST", "/console/sites/{site}/bags/{rid}/items"): S9,
    ("POST", "/console/sites/{site}/bags/{rid}/items/{item_id}/remove"): {**S9, **NO_ITEM},
    ("POST", "/console/sites/{site}/bags/{rid}/reopen"): S9,
    ("GET", "/console/sites/{site}/despatches"): SITE,
    ("POST", "/console/sites/{site}/despatches"): SITE,
    ("GET", "/console/sites/{site}/despatches/{did}"): S8,
    ("GET", "/console/sites/{site}/despatches/{did}/bill.pdf"): S8,
    ("POST", "/console/sites/{site}/despatches/{did}/close"): S8,
    ("POST", "/console/sites/{site}/despatches/{did}/handover"): S8,
    ("POST", "/console/sites/{site}/despatches/{did}/receptacles/{rid}/remove"): {**S8, **S9},
    ("GET", "/console/sites/{site}/held"): SITE,
    ("GET", "/console/sites/{site}/transfers"): SITE,
    ("POST", "/console/sites/{site}/transfers/send"): SITE,
    ("POST", "/console/sites/{site}/transfers/received"): SITE,
    ("GET", "/console/holds/{hold_id}"): HOLD,
    ("POST", "/console/holds/{hold_id}/confirm"): HOLD,
    ("POST", "/console/holds/{hold_id}/release"): HOLD,
    ("POST", "/console/failovers/{request_id}/confirm"): {"request_id": "fov_00000000000000000000"},
    ("POST", "/console/advisories/{advisory_id}/resolve"): ADVISORY,
    ("POST", "/console/advisories/{advisory_id}/updates"): ADVISORY,
    ("POST", "/console/network/alarms/{alarm_id}/clear"): {"alarm_id": "1"},
    ("POST", "/console/sites/{site}/held/{item_id}/return"): {**SITE, **NO_ITEM},
    ("GET", "/console/users/{username}"): {"username": "clerk.gblala"},
    ("POST", "/console/users/{username}/disable"): {"username": "clerk.gblala"},
    ("POST", "/console/users/{username}/enable"): {"username": "clerk.gblala"},
    ("POST", "/console/users/{username}/sessions/end"): {"username": "clerk.gblala"},
}


# Sender portal pages (cookie sessions of customer users): the owner's user reaches the
# object, another customer's user gets the page of a missing id (tests/portal for the rest).
def portal_item(node: Container, customer_id: str) -> Params:
    return {"item_id": new_items(node, customer_id, service="parcel")[0].id}


def portal_webhook(node: Container, customer_id: str) -> Params:
    from postex.tracking.app.webhooks import subscribe

    made = subscribe(node.ctx, customer_id, "https://example.com/postex-hook")
    return {"webhook_id": made.record.id}


def portal_delivery(node: Container, customer_id: str) -> Params:
    from postex.tracking.app.webhooks import deliveries

    params = portal_webhook(node, customer_id)
    new_items(node, customer_id)  # its pre-advice event queues a delivery
    [sent] = deliveries(node.ctx, customer_id, params["webhook_id"])
    return {**params, "delivery_id": sent.id}


NO_DELIVERY = {**NO_WEBHOOK, "delivery_id": "whd_00000000000000000000"}
PortalCase = tuple[Callable[[Container, str], Params], int, Params]
PORTAL_ROUTES: dict[tuple[str, str], PortalCase] = {
    ("GET", "/portal/items/{item_id}"): (portal_item, 200, NO_ITEM),
    ("GET", "/portal/items/{item_id}/label.pdf"): (portal_item, 200, NO_ITEM),
    ("GET", "/portal/items/{item_id}/cn23.pdf"): (portal_item, 200, NO_ITEM),
    ("GET", "/portal/items/{item_id}/certificate.pdf"): (portal_item, 200, NO_ITEM),
    ("GET", "/portal/items/{item_id}/receipt.json"): (portal_item, 200, NO_ITEM),
    ("POST", "/portal/items/{item_id}/cancel"): (portal_item, 303, NO_ITEM),
    ("GET", "/portal/webhooks/{webhook_id}"): (portal_webhook, 200, NO_WEBHOOK),
    ("POST", "/portal/webhooks/{webhook_id}/delete"): (portal_webhook, 303, NO_WEBHOOK),
    ("POST", "/portal/webhooks/{webhook_id}/test"): (portal_webhook, 303, NO_WEBHOOK),
    ("GET", "/portal/webhooks/{webhook_id}/deliveries/{delivery_id}"): (
        portal_delivery, 200, NO_DELIVERY),
    ("POST", "/portal/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): (
        portal_delivery, 303, NO_DELIVERY),
}  # fmt: skip


def id_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route with a path parameter, through included routers too."""
    found = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        methods = getattr(route, "methods", None) or set()
        if PATH_PARAM.search(path):
            found.update((m, path) for m in methods - {"HEAD", "OPTIONS"})
    return found


def url(path: str, params: Params) -> str:
    return path.format(**params)


def same_as_missing(response: Any, missing: Any, real: Params, fake: Params) -> bool:
    """Equal except for the id itself (the problem's detail and instance name it)."""

    def norm(r: Any, p: Params) -> str:
        text = r.text
        for value in p.values():
            text = text.replace(value, "<id>")
        return text

    return (
        response.status_code == missing.status_code
        and response.headers["content-type"] == missing.headers["content-type"]
        and norm(response, real) == norm(missing, fake)
    )


def test_every_id_route_is_in_the_matrix(client: TestClient) -> None:
    """Each route with a path parameter is covered by exactly one table of this test."""
    tables = [set(CUSTOMER_ROUTES), set(PUBLIC_ROUTES), set(STAFF_ROUTES), set(CONSOLE_ROUTES),
              set(PORTAL_ROUTES), set(PUBLIC_LOG_ROUTES)]  # fmt: skip
    covered = set().union(*tables)
    assert sum(len(t) for t in tables) == len(covered), "a route is in two tables"
    found = id_routes(client.app)
    assert found - covered == set(), "add these id routes to the isolation matrix"
    assert covered - found == set(), "these routes in the matrix no longer exist"


@pytest.mark.parametrize("route", sorted(CUSTOMER_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_only_the_owner_reaches_an_object(
    node: Container, client: TestClient, route: tuple[str, str]
) -> None:
    """Owner succeeds; other customer gets the missing-id 404; no or revoked key gets 401."""
    method, path = route
    case = CUSTOMER_ROUTES[route]
    owner = make_caller(node, "Owner Ltd")
    other = make_caller(node, "Other Ltd")
    params = case.make(node, client, owner)
    target = url(path, params)

    as_other = client.request(method, target, headers=other.headers)
    missing = client.request(method, url(path, case.missing), headers=other.headers)
    assert as_other.status_code == 404
    assert same_as_missing(as_other, missing, params, case.missing)

    for headers in ({}, {"Authorization": "Bearer pxk_nope_nope"}, {"Authorization": "Basic x"}):
        anon = client.request(method, target, headers=headers)
        anon_missing = client.request(method, url(path, case.missing), headers=headers)
        assert anon.status_code == anon_missing.status_code == 401
        assert anon.json()["type"].endswith("unauthenticated")

    assert client.request(method, target, headers=owner.headers).status_code == case.ok
    if method != "GET":  # undo nothing: make a fresh object for the revoked-key round
        params = case.make(node, client, owner)
        target = url(path, params)
    rotated = rotate_key(node.ctx, owner.id, {"kind": "test", "id": "isolation"})
    revoked = client.request(method, target, headers=owner.headers)
    assert revoked.status_code == 401

    fresh = {"Authorization": f"Bearer {rotated.api_key}"}
    ok = client.request(method, target, headers=fresh)
    assert ok.status_code == case.ok, ok.text


@pytest.mark.parametrize("route", sorted(PUBLIC_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_public_routes_answer_anyone_alike(
    node: Container, client: TestClient, route: tuple[str, str]
) -> None:
    """A public id route answers an anonymous caller exactly as it answers the owner."""
    method, path = route
    owner = make_caller(node, "Owner Ltd")
    target = url(path, cn22_item(node, client, owner))
    anonymous = client.request(method, target)
    assert anonymous.status_code == 200
    assert anonymous.content == client.request(method, target, headers=owner.headers).content


@pytest.mark.parametrize("route", sorted(PUBLIC_LOG_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_public_log_routes_answer_anyone_alike_with_no_personal_data(
    node: Container, client: TestClient, route: tuple[str, str]
) -> None:
    """A transparency-log route answers an anonymous caller exactly as a customer, and
    its answer holds hashes, never the customer's name."""
    method, path = route
    owner = make_caller(node, "Owner Ltd")
    cn22_item(node, client, owner)
    node.admin.checkpoint_now("GBLALA")
    target = url(path, SITE) + PUBLIC_LOG_ROUTES[route]
    anonymous = client.request(method, target)
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.content == client.request(method, target, headers=owner.headers).content
    assert b"Owner Ltd" not in anonymous.content


@pytest.mark.parametrize("route", sorted(STAFF_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_staff_routes_refuse_customers_and_anonymous(
    node: Container, client: TestClient, route: tuple[str, str]
) -> None:
    """A customer's key never gets a 2xx (nor a 5xx) from a staff route; no key gets 401."""
    method, path = route
    customer = make_caller(node, "Curious Ltd")
    target = url(path, STAFF_ROUTES[route])
    assert client.request(method, target, json={}).status_code == 401
    status = client.request(method, target, json={}, headers=customer.headers).status_code
    assert status in (403, 404, 422), status


@pytest.mark.parametrize("route", sorted(CONSOLE_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_console_pages_send_anyone_without_a_session_to_sign_in(
    node: Container, client: TestClient, route: tuple[str, str]
) -> None:
    """Neither no credentials nor a customer's key open a console page: both are sent to
    sign-in, and nothing is written."""
    method, path = route
    customer = make_caller(node, "Curious Ltd")
    target = url(path, CONSOLE_ROUTES[route])
    before = node.store.head("GBLALA")[0]
    for headers in ({}, customer.headers):
        r = client.request(method, target, headers=headers, follow_redirects=False)
        assert (r.status_code, r.headers.get("location")) == (303, "/console/sign-in")
    assert node.store.head("GBLALA")[0] == before


@pytest.mark.parametrize("route", sorted(PORTAL_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_only_the_owners_portal_users_reach_an_object(
    node: Container, client: TestClient, route: tuple[str, str]
) -> None:
    """The owner's portal user succeeds; another customer's user gets exactly the page of a
    missing id (item, webhook, delivery) and nothing is written; without a portal session
    the caller is sent to sign-in."""
    from tests.portal.helpers import csrf_of, portal_sign_in, sender

    method, path = route
    make, ok, fake = PORTAL_ROUTES[route]
    owner, other = sender(node, "Owner Ltd", "owner"), sender(node, "Other Ltd", "other")
    params = make(node, owner.customer_id)
    target, missing = url(path, params), url(path, fake)

    def ask(where: str) -> Any:
        data = {"csrf_token": csrf_of(client.get("/portal/items/new").text)}
        return client.request(method, where, data=data if method == "POST" else None,
                              follow_redirects=False)  # fmt: skip

    anonymous = client.request(method, target, follow_redirects=False)
    assert (anonymous.status_code, anonymous.headers.get("location")) == (303, "/portal/sign-in")
    portal_sign_in(client, other.username)
    before = node.store.head("GBLALA")[0]
    as_other, as_missing = ask(target), ask(missing)
    assert as_other.status_code == 404
    assert same_as_missing(as_other, as_missing, params, fake)
    assert node.store.head("GBLALA")[0] == before
    client.cookies.clear()
    portal_sign_in(client, owner.username)
    assert ask(target).status_code == ok


def test_list_and_reference_search_never_show_another_customers_items(
    node: Container, client: TestClient
) -> None:
    """Bob's items, even with the same reference, never appear in Alice's list or search."""
    alice, bob = make_caller(node, "Alice Ltd"), make_caller(node, "Bob Ltd")
    new_items(node, bob.id, 3)
    mine = client.get("/api/v1/items", headers=alice.headers).json()["items"]
    assert mine == []
    search = client.get("/api/v1/items?reference=ORDER-1042", headers=alice.headers).json()
    assert search["items"] == []


def test_no_key_is_401_before_the_body_is_read(client: TestClient) -> None:
    """Creating routes answer 401 to anonymous callers even with an invalid body."""
    for path in ("/api/v1/items", "/api/v1/manifests"):
        r = client.post(path, json={"nonsense": True})
        assert r.status_code == 401, path
