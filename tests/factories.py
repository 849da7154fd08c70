"""Factories for valid test data; tests change one thing to make it invalid."""

from __future__ import annotations

import copy
from typing import Any

from postex.accounts.app.customers import CreatedCustomer, create_customer
from postex.bootstrap import Container
from postex.items.app.preadvice import ItemRecord, pre_advise
from postex.items.domain.items import parse_pre_advice

ITEM: dict[str, Any] = {
    "service": "tracked",
    "reference": "ORDER-1042",
    "sender": {
        "name": "Margaret Thistlewood",
        "company": "Thistle & Thread Ltd",
        "address_lines": ["14 Marigold Lane"],
        "city": "London",
        "postcode": "SW1A 1AA",
        "country": "GB",
        "phone": "+44 20 7946 0000",
        "email": "margaret.thistlewood@example.co.uk",
    },
    "addressee": {
        "name": "Bartholomew Quincey",
        "address_lines": ["2200 Juniper Boulevard", "Apt 7"],
        "city": "New York",
        "region": "NY",
        "postcode": "10001",
        "country": "US",
        "phone": "+1 212 555 0100",
        "email": "bart.quincey@example.com",
    },
    "weight_g": 850,
    "dimensions_mm": {"length": 300, "width": 200, "height": 100},
    "contents": {
        "category": "sale_of_goods",
        "lines": [
            {
                "description": "Cotton T-shirt",
                "quantity": 2,
                "net_weight_g": 400,
                "value_minor": 2500,
                "currency": "GBP",
                "hs_code": "610910",
                "origin_country": "GB",
            }
        ],
        "invoice_number": "INV-77",
    },
    "importer": {"ioss": "IM1234567890"},
}

DOCUMENTS_LETTER: dict[str, Any] = {
    **ITEM,
    "service": "standard_letter",
    "weight_g": 60,
    "dimensions_mm": None,
    "contents": {"category": "documents", "lines": []},
    "importer": None,
}


def item_payload(**changes: Any) -> dict[str, Any]:
    """A valid item; keyword arguments replace top-level fields."""
    data = copy.deepcopy(ITEM)
    data.update(changes)
    return data


def new_customer(node: Container, name: str = "Thistle & Thread Ltd") -> CreatedCustomer:
    return create_customer(node.ctx, name)


def new_items(node: Container, customer_id: str, n: int = 1, **changes: Any) -> list[ItemRecord]:
    advice = parse_pre_advice(item_payload(**changes))
    return pre_advise(node.ctx, customer_id, [advice] * n)
