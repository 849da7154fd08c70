"""Who is calling is decided before what they sent: 401, then 403, then 422.

A caller of the wrong kind or role (a staff token on a customer route, a customer key on a
site, holds or partner route) is refused with 403 whatever its query or body: it never gets
a 422 describing input it may not send. The right caller with the same bad input gets 422.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.server import create_app
from tests.factories import SITE, make_caller, partner, staff

BAD_JSON = b'{"items": ['


@dataclass(frozen=True)
class Bad:
    """One request with bad input: a bad or unknown query parameter, or an undecodable body."""

    method: str
    url: str
    body: bytes | None = None

    def send(self, client: TestClient, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
        if self.body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        r = client.request(self.method, self.url, content=self.body, headers=headers)
        assert r.headers["content-type"].startswith("application/problem+json"), r.text
        return r.status_code, r.json()


CUSTOMER_ROUTES = [
    Bad("GET", "/api/v1/items?limit=abc"),
    Bad("GET", "/api/v1/items?bogus=1"),  # refused by known_query, a dependency of its own
    Bad("POST", "/api/v1/items", BAD_JSON),
    Bad("POST", "/api/v1/items?bogus=1", b"{}"),
    Bad("POST", "/api/v1/manifests", BAD_JSON),
    Bad("GET", "/api/v1/items/LA100000003GB?bogus=1"),
    Bad("GET", "/api/v1/webhooks?limit=abc"),
    Bad("POST", "/api/v1/webhooks", BAD_JSON),
]
SITE_ROUTES = [
    Bad("GET", f"/api/v1/sites/{SITE}/receptacles?limit=abc"),
    Bad("GET", f"/api/v1/sites/{SITE}/receptacles?bogus=1"),
    Bad("POST", f"/api/v1/sites/{SITE}/acceptances", BAD_JSON),
    Bad("POST", f"/api/v1/sites/{SITE}/receptacles", BAD_JSON),
    Bad("GET", f"/api/v1/sites/{SITE}/despatches?limit=0"),
    Bad("POST", f"/api/v1/sites/{SITE}/despatches", BAD_JSON),
]
OPS_ROUTES = [
    Bad("GET", "/api/v1/holds/held-items?limit=0"),
    Bad("POST", "/api/v1/holds", BAD_JSON),
    Bad("GET", "/api/v1/audit?limit=abc"),
    Bad("GET", "/api/v1/ops/quarantine?limit=0"),
    Bad("POST", "/api/v1/advisories/adv_x/updates", BAD_JSON),
]
PARTNER_ROUTES = [
    Bad("POST", "/api/v1/partner/events?partial=maybe", b'{"events": []}'),
    Bad("GET", "/api/v1/partner/quarantine?limit=0"),
]


@pytest.fixture
def tokens(node: Container) -> dict[str, dict[str, str]]:
    return {
        "customer": make_caller(node, "Order Ltd").headers,
        "clerk": staff(node, "clerk").headers,
        "ops": staff(node, "ops", site=None).headers,
        "partner": partner(node, offices=("USJFKA",)).headers,
    }


@pytest.fixture
def api(node: Container) -> Iterator[TestClient]:
    with TestClient(create_app(node)) as c:
        yield c


def refused_then_accepted(
    api: TestClient,
    tokens: dict[str, dict[str, str]],
    bad: Bad,
    right: str,
    wrong: tuple[str, ...],
    rule: str,
) -> None:
    status, body = bad.send(api, tokens[right])
    assert status == 422, body  # the input is really bad: the right caller is told so
    for who in wrong:
        status, body = bad.send(api, tokens[who])
        assert (status, body["rule"]) == (403, rule), (who, body)
        assert "field" not in body and "errors" not in body  # nothing about the input
    status, body = bad.send(api, {"Authorization": "Bearer pxk_nobody_secret"})
    assert status == 401, body


@pytest.mark.sqlite_only
@pytest.mark.parametrize("bad", CUSTOMER_ROUTES, ids=lambda b: f"{b.method} {b.url}")
def test_staff_and_partners_get_403_before_422_on_customer_routes(
    api: TestClient, tokens: dict[str, dict[str, str]], bad: Bad
) -> None:
    refused_then_accepted(api, tokens, bad, "customer", ("clerk", "ops", "partner"), "kind")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("bad", SITE_ROUTES, ids=lambda b: f"{b.method} {b.url}")
def test_customers_and_partners_get_403_before_422_on_site_routes(
    api: TestClient, tokens: dict[str, dict[str, str]], bad: Bad
) -> None:
    refused_then_accepted(api, tokens, bad, "clerk", ("customer", "partner"), "kind")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("bad", OPS_ROUTES, ids=lambda b: f"{b.method} {b.url}")
def test_customers_and_partners_get_403_before_422_on_ops_routes(
    api: TestClient, tokens: dict[str, dict[str, str]], bad: Bad
) -> None:
    refused_then_accepted(api, tokens, bad, "ops", ("customer", "partner"), "role")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("bad", PARTNER_ROUTES, ids=lambda b: f"{b.method} {b.url}")
def test_customers_and_staff_get_403_before_422_on_partner_routes(
    api: TestClient, tokens: dict[str, dict[str, str]], bad: Bad
) -> None:
    refused_then_accepted(api, tokens, bad, "partner", ("customer", "clerk", "ops"), "role")


@pytest.mark.sqlite_only
def test_a_role_the_route_is_not_for_is_refused_before_its_input(
    api: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    """A clerk may read holds but not place one: a bad hold body from a clerk is a 403."""
    status, body = Bad("POST", "/api/v1/holds", BAD_JSON).send(api, tokens["clerk"])
    assert (status, body["rule"]) == (403, "role"), body
    status, body = Bad("GET", "/api/v1/holds?status=" + "x" * 30).send(api, tokens["clerk"])
    assert status == 422, body  # clerks may list holds: their bad query is described
