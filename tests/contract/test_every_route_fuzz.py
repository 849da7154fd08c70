"""Schemathesis against every route of a node that the customer fuzz test leaves out.

Site routes, holds, advisories, audit, status, partner events and quarantine, the ops
quarantine, public tracking, integrity, webhooks and health: Hypothesis generates requests
from /openapi.json, fitting the schema and breaking it, and each is sent with the real
credential of a caller who may use the route (site staff, ops, supervisor, auditor, admin,
a partner, a customer; none on public routes). Whatever comes, the answer is never a 5xx,
and every 4xx is ``application/problem+json`` with type, title and status; a 422 also names
field, rule and value. A second run sends breaking input from callers a route is not for
(customer and partner keys on staff routes, staff on customer and partner routes): each
gets 403, never a 422 about what it sent.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import cycle
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from postex.bootstrap import Container
from postex.server import create_app
from tests.factories import SERIES, SITE, letters, make_caller, partner, staff

CUSTOMER_FUZZED = r"^/api/v1/(items|manifests|labels)"  # tests/items/test_api_fuzz.py
EXAMPLES_PER_MODE = 8
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Callers:
    """One bearer token per kind of caller, all real credentials in the node's log."""

    tokens: dict[str, str]

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}


def callers(node: Container) -> Callers:
    tokens = {role: staff(node, role).token for role in ("clerk", "supervisor")} | {
        role: staff(node, role, site=None).token for role in ("ops", "auditor", "admin")
    }
    tokens["partner"] = partner(node, offices=("USJFKA",)).token
    tokens["customer"] = make_caller(node, "Fuzz Webhooks Ltd").api_key
    return Callers(tokens)


# Who calls each route: every role that may, in turn (first match wins).
WHO: list[tuple[str, tuple[str | None, ...]]] = [
    (r"^/api/v1/sites/", ("supervisor", "clerk", "ops", "admin")),
    (r"^/api/v1/(holds|advisories)", ("ops", "supervisor", "auditor", "admin")),
    (r"^/api/v1/(failovers|failbacks)", ("ops", "auditor", "supervisor", "admin")),
    (r"^/api/v1/audit", ("auditor", "admin", "ops", "supervisor")),
    (r"^/api/v1/partner/", ("partner", "ops")),
    (r"^/api/v1/ops/", ("ops", "auditor", "admin")),
    (r"^/api/v1/integrity", ("ops", "auditor", "admin")),
    (r"^/api/v1/webhooks", ("customer",)),
    (r"^/api/v1/tracking/", (None, "customer")),
    (r"^/api/v1/log/", (None, "customer")),
    (r"^/(track|status|healthz|readyz)", (None,)),
]


def who_calls(path: str) -> tuple[str | None, ...]:
    return next(who for pattern, who in WHO if re.match(pattern, path))


def assert_documented_answer(response: Any, where: str) -> None:
    status = response.status_code
    assert status < 500, f"{where}: {status} {response.text[:300]}"
    if status < 400:
        return
    media = response.headers.get("content-type", [""])[0].split(";")[0]
    if where.startswith("GET /track/") and media == "text/html":
        return  # the public page is for people: its errors are HTML pages (tracking_page.py)
    assert media == PROBLEM, f"{where}: {status} as {media!r}"
    body = response.json()
    assert {"type", "title", "status"} <= set(body), f"{where}: {body}"
    assert body["status"] == status, f"{where}: {body}"
    if status == 422:
        assert {"field", "rule", "value"} <= set(body), f"{where}: {body}"


def assert_declared_media(case: Any, response: Any, where: str) -> None:
    """A success answers in a media type its OpenAPI operation declares for that status."""
    status = response.status_code
    if status >= 400 or status == 204:
        return
    media = response.headers.get("content-type", [""])[0].split(";")[0]
    declared = case.operation.definition.raw.get("responses", {}).get(str(status), {})
    assert media in declared.get("content", {}), f"{where}: {status} as {media!r}, {declared}"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def seed(node: Container, who: Callers) -> dict[str, list[str]]:
    """Real objects to aim at: accepted items, open and closed bags, a despatch, a hold,
    a webhook. Positive cases use their ids in every other request, so the fuzzer reaches
    the routes' rules on objects that exist, not only their 404s."""
    clerk, boss, ops = who.headers("clerk"), who.headers("supervisor"), who.headers("ops")
    records = letters(node, 4)
    items = [i.id for i in records]
    api = f"/api/v1/sites/{SITE}"
    with TestClient(create_app(node)) as c:
        scans = {"scans": [{"item_id": i.id, "weight_g": i.weight_g} for i in records]}
        ok(c.post(f"{api}/acceptances", json=scans, headers=clerk), 201)
        bags = [ok(c.post(f"{api}/receptacles", json=SERIES, headers=clerk), 201) for _ in "ab"]
        for bag, chunk in zip(bags, (items[:2], items[2:]), strict=True):
            body = {"item_ids": chunk}
            ok(c.post(f"{api}/receptacles/{bag['id']}/items", json=body, headers=clerk))
        body = {"gross_weight_g": 9000, "last": True}
        closed = ok(c.post(f"{api}/receptacles/{bags[1]['id']}/close", json=body, headers=clerk))
        body = {"receptacle_ids": [closed["s9"]]}
        despatch = ok(c.post(f"{api}/despatches", json=body, headers=boss), 201)
        body = {"scope": {"goods_only": True}, "reason": "fuzz", "advisory": "Goods held."}
        hold = ok(c.post("/api/v1/holds", json=body, headers=ops), 201)
        body = {"url": "https://hooks.example.com/postex", "statuses": ["delivered"]}
        hook = ok(c.post("/api/v1/webhooks", json=body, headers=who.headers("customer")), 201)
        body = {"from_site": SITE, "to_site": "GBLGWA", "reason": "fuzz: site lost"}
        failover = ok(c.post("/api/v1/failovers", json=body, headers=ops), 201)
    return {
        "site": [SITE],
        "item_id": items,
        "rid": [b["id"] for b in bags] + [closed["s9"]],
        "did": [despatch["id"]],
        "hold_id": [hold["id"]],
        "webhook_id": [hook["id"]],
        "request_id": [failover["id"]],
        "kind": ["predes", "itmatt", "cardit"],
    }


@pytest.mark.sqlite_only
def test_every_route_answers_with_a_result_or_a_problem(node: Container) -> None:
    """A few hundred generated requests over every non-customer route: no 5xx, only problems."""
    who = callers(node)
    real = {name: cycle(ids) for name, ids in seed(node, who).items()}
    aim = cycle((True, False))
    app = create_app(node)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
        path_regex=CUSTOMER_FUZZED
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    assert all(who_calls(op.path) for op in operations)  # every route has its callers
    statuses: Counter[int] = Counter()
    for operation in operations:
        roles = cycle(who_calls(operation.path))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                params = case.path_parameters or {}
                if mode is GenerationMode.POSITIVE and next(aim):  # noqa: B023
                    for name in params.keys() & real.keys():
                        params[name] = next(real[name])  # an object that exists
                response = case.call(headers=who.headers(next(roles)))  # noqa: B023
                where = f"{case.method} {case.formatted_path}"
                assert_documented_answer(response, where)
                assert_declared_media(case, response, where)
                statuses[response.status_code] += 1

            try:
                run()
            except Unsatisfiable:  # nothing to break: the route takes no input
                assert mode is GenerationMode.NEGATIVE
    assert sum(statuses.values()) >= 300
    assert statuses[422] > 0 and statuses[200] > 0


# Callers a route is not for at all (the kind, or a role the route never allows).
WRONG: list[tuple[str, tuple[str, ...]]] = [
    (r"^/api/v1/(items|manifests|labels|webhooks)", ("clerk", "ops", "partner")),
    (r"^/api/v1/sites/", ("customer", "partner")),
    (r"^/api/v1/(holds|advisories/)|^/api/v1/(audit|ops/|integrity)", ("customer", "partner")),
    (r"^/api/v1/partner/", ("customer", "clerk", "ops")),
]


@pytest.mark.sqlite_only
def test_callers_a_route_is_not_for_get_403_whatever_they_send(node: Container) -> None:
    """Generated input, good or bad, from a caller of the wrong kind or role: always 403
    (401 only where the case dropped the key), never a 422 about input it may not send."""
    who = callers(node)
    app = create_app(node)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    gated = [(op, w) for op in operations for p, w in WRONG if re.match(p, op.path)]
    assert len(gated) >= 40
    statuses: Counter[int] = Counter()
    for operation, wrong in gated:
        callers_ = cycle(wrong)

        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(
            max_examples=5, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(case: Any) -> None:
            response = case.call(headers=who.headers(next(callers_)))  # noqa: B023
            where = f"{case.method} {case.formatted_path}"
            assert_documented_answer(response, where)
            keyed = "Authorization" in response.request.headers
            body = response.json()
            if response.status_code == 404:  # the generated path matched no route at all
                assert body["type"].endswith("/http-404"), f"{where}: {body}"
            else:
                assert response.status_code == (403 if keyed else 401), f"{where}: {body}"
            statuses[response.status_code] += 1

        run()
    assert statuses[403] >= 100
