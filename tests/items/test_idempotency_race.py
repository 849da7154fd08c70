"""Concurrent retries with one Idempotency-Key create one item, and all get its answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from postex.bootstrap import Container
from postex.items.app.customer_items import Answer, create_items, list_customer_items
from postex.items.app.idempotency import idempotency
from postex.items.app.preadvice import ItemFilter
from postex.items.domain.items import parse_pre_advice
from tests.factories import item_payload, make_caller


def test_racing_retries_store_one_item(node: Container) -> None:
    """Eight simultaneous requests with the same key and body store one item, one answer."""
    alice = make_caller(node, "Alice")
    advice = parse_pre_advice(item_payload(), node.ctx.country)
    idem = idempotency("race-1", b"POST /api/v1/items", b"same body")

    def render(records: list[Any], _advices: Any) -> dict[str, Any]:
        return {"id": records[0].id}

    def attempt(_: int) -> Answer:
        return create_items(node.ctx, alice.id, [advice], render, idem)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, range(8)))
    assert len({a.body["id"] for a in answers}) == 1
    assert sum(not a.replayed for a in answers) == 1
    assert len(list_customer_items(node.ctx, alice.id, ItemFilter())) == 1
