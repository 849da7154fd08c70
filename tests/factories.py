"""Factories for valid test data; tests change one thing to make it invalid."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from postex.accounts.app.auth import Principal, Role, issue_token
from postex.accounts.app.customers import CreatedCustomer, create_customer
from postex.accounts.app.staff import create_user
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


# --- callers: customers with API keys, staff and partner credentials --------------------


@dataclass(frozen=True)
class Caller:
    id: str
    api_key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_caller(node: Container, name: str) -> Caller:
    created = new_customer(node, name)
    return Caller(created.record.id, created.api_key, created.key_id)


SITE = "GBLALA"
SERIES = {"destination": "USJFKA", "category": "A", "subclass": "UN"}


@dataclass(frozen=True)
class Staff:
    principal: Principal
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def staff(node: Container, role: str, site: str | None = SITE, name: str = "") -> Staff:
    created = create_user(node.ctx, name or f"{role}.{site or 'all'}".lower(), role, site)
    r = created.record
    p = Principal("staff", r.id, Role(role), created.key_id, site=r.site, name=r.username)
    return Staff(p, created.token)


def partner(node: Container, offices: tuple[str, ...] = ("BA",)) -> Staff:
    """A partner key (the partners feature has its own command; here only the credential)."""
    token = issue_token("partner", "prt_test", Role.PARTNER, offices=offices, name="BA")
    with node.ctx.store.write(node.ctx.site) as uow:
        uow.append([token.event])
    p = Principal("partner", "prt_test", Role.PARTNER, token.key_id, offices=offices)
    return Staff(p, token.token)


def letters(node: Container, n: int = 3, documents: int = 1, **changes: Any) -> list[ItemRecord]:
    """Tracked letters with goods for the US, and some documents-only letters."""
    customer = new_customer(node)
    goods = new_items(node, customer.record.id, n, **changes)
    docs = [
        new_items(
            node,
            customer.record.id,
            1,
            **{k: v for k, v in DOCUMENTS_LETTER.items() if k != "importer"},
            importer=None,
        )[0]
        for _ in range(documents)
    ]
    return goods + docs


class ManualClock:
    """A clock the test moves by hand (always timezone-aware UTC), so expiry, backoff and
    schedules are driven, never slept through. It starts now unless given a start."""

    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.t

    def advance(self, **delta: float) -> None:
        self.t += timedelta(**delta)
