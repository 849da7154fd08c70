"""An erased customer's creating requests are 403 ``customer_erased``, documented, not 503.

Erasure destroys the customer's data key: nothing new can be sealed for them and their
recorded idempotent answers cannot be opened. A client should stop (no retry helps); a 503
would have told it to retry.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from postex.accounts.app.customers import erase_customer
from postex.bootstrap import Container
from tests.factories import Caller, item_payload
from tests.items.test_manifests import EXAMPLES


def _erased(r: Any) -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["type"], body["rule"]) == ("https://postex.dev/problems/forbidden",
                                            "customer_erased")  # fmt: skip
    assert "correlation id" not in body["detail"]


def test_erased_customer_cannot_create(node: Container, client: TestClient, alice: Caller) -> None:
    """Items, JSON and CSV manifests, and a replay of a recorded key: all 403, nothing stored."""
    keyed = {**alice.headers, "Idempotency-Key": "before-erasure"}
    first = client.post("/api/v1/items", json=item_payload(reference="E-1"), headers=keyed)
    assert first.status_code == 201
    erase_customer(node.ctx, alice.id, reason="test")
    node.vault.forget_cached()
    heads = {s: node.store.head(s) for s in node.store.sites()}

    _erased(client.post("/api/v1/items", json=item_payload(), headers=alice.headers))
    _erased(client.post("/api/v1/manifests", json=[item_payload()], headers=alice.headers))
    csv = (EXAMPLES / "manifest-example.csv").read_bytes()
    _erased(client.post("/api/v1/manifests", content=csv,
                        headers={**alice.headers, "Content-Type": "text/csv"}))  # fmt: skip
    _erased(client.post("/api/v1/items", json=item_payload(reference="E-1"), headers=keyed))
    assert {s: node.store.head(s) for s in node.store.sites()} == heads  # nothing written

    # Reading what exists still works (without personal data), and bad input is still a 422.
    listed = client.get("/api/v1/items", headers=alice.headers)
    assert [i["id"] for i in listed.json()["items"]] == [first.json()["id"]]
    bad = client.post("/api/v1/items", json=item_payload(weight_g=0), headers=alice.headers)
    assert bad.status_code == 422


def test_other_customers_are_unaffected(
    node: Container, client: TestClient, alice: Caller, bob: Caller
) -> None:
    erase_customer(node.ctx, alice.id, reason="test")
    node.vault.forget_cached()
    assert client.post("/api/v1/items", json=item_payload(), headers=bob.headers).status_code == 201


def test_erased_customer_cannot_subscribe_a_webhook(
    node: Container, client: TestClient, alice: Caller
) -> None:
    """Subscribing seals the webhook secret under the destroyed data key: 403, not 503."""
    hook = {"url": "https://example.com/postex-hook"}
    before = client.post("/api/v1/webhooks", json=hook, headers=alice.headers)
    assert before.status_code == 201, before.text
    erase_customer(node.ctx, alice.id, reason="test")
    node.vault.forget_cached()
    heads = {s: node.store.head(s) for s in node.store.sites()}

    _erased(client.post("/api/v1/webhooks", json=hook, headers=alice.headers))
    assert {s: node.store.head(s) for s in node.store.sites()} == heads  # nothing written
    listed = client.get("/api/v1/webhooks", headers=alice.headers).json()["webhooks"]
    assert [w["id"] for w in listed] == [before.json()["id"]]
    bad = client.post("/api/v1/webhooks", json={"url": "ftp://x"}, headers=alice.headers)
    assert bad.status_code == 422  # bad input is still described first
