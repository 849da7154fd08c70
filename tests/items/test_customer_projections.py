"""The customer API's projections rebuild from the log; erasure leaves nothing to read or match."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from postex.accounts.app.customers import erase_customer
from postex.bootstrap import Container
from postex.server import create_app
from tests.factories import item_payload, make_caller


def test_rebuild_recreates_idempotency_and_reference_index(
    node: Container, client: TestClient
) -> None:
    """After `rebuild` replays, idempotent replays and reference search work as before."""
    alice = make_caller(node, "Alice")
    headers = {**alice.headers, "Idempotency-Key": "rebuild-1"}
    first = client.post("/api/v1/items", json=item_payload(reference="REB-1"), headers=headers)
    client.post("/api/v1/manifests", json=[item_payload(reference="REB-2")], headers=alice.headers)
    before = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == before
    again = client.post("/api/v1/items", json=item_payload(reference="REB-1"), headers=headers)
    assert again.json() == first.json()
    found = client.get("/api/v1/items?reference=REB-2", headers=alice.headers).json()["items"]
    assert [i["reference"] for i in found] == ["REB-2"]


@pytest.mark.sqlite_only
def test_erased_customer_items_show_no_personal_data(node: Container) -> None:
    """After erasure the detail has no personal data, search finds nothing, no label prints."""
    alice = make_caller(node, "Alice")
    with TestClient(create_app(node)) as client:
        item = client.post(
            "/api/v1/items", json=item_payload(reference="GONE-1"), headers=alice.headers
        ).json()
        erase_customer(node.ctx, alice.id, reason="test")
        node.vault.forget_cached()
        detail = client.get(f"/api/v1/items/{item['id']}", headers=alice.headers).json()
        assert detail["personal_data_erased"] is True
        assert detail["addressee"] is None
        assert detail["reference"] is None
        search = client.get("/api/v1/items?reference=GONE-1", headers=alice.headers).json()
        assert search["items"] == []
        label = client.get(f"/api/v1/items/{item['id']}/label.pdf", headers=alice.headers)
        assert (label.status_code, label.json()["rule"]) == (409, "personal_data_erased")
