"""Demo data: a few business customers and a few hundred realistic export items.

Names are invented; addresses use real postcode formats. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from postex.accounts.app.customers import create_customer, list_customers
from postex.accounts.app.staff import UserRepository, create_user
from postex.eventlog.context import Context
from postex.items.app.preadvice import ItemRecord, pre_advise
from postex.items.domain.items import parse_pre_advice

FIRST = ["Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Freya", "Leo",
         "Sofia", "Hiroshi", "Chen", "Lena", "Mateo", "Chloé", "Sven", "Aoife", "Priya",
         "Lucas"]  # fmt: skip
LAST = ["Hughes", "Patel", "Okafor", "Schmidt", "Dubois", "Tanaka", "Wang", "Murphy", "Jansen",
        "García", "Kowalski", "Rossi", "Nilsson", "Brown", "Wilson", "Moreau"]  # fmt: skip
DESTINATIONS: list[dict[str, Any]] = [
    {
        "country": "US",
        "city": "New York",
        "region": "NY",
        "postcode": "10001",
        "street": "Broadway",
    },
    {"country": "DE", "city": "Berlin", "postcode": "10115", "street": "Invalidenstraße"},
    {"country": "FR", "city": "Paris", "postcode": "75008", "street": "Rue du Faubourg"},
    {"country": "NL", "city": "Amsterdam", "postcode": "1012 AB", "street": "Damrak"},
    {"country": "IE", "city": "Dublin", "postcode": "D02 X285", "street": "Grafton Street"},
    {"country": "AU", "city": "Sydney", "region": "NSW", "postcode": "2000", "street": "George St"},
    {"country": "JP", "city": "Tokyo", "postcode": "100-0001", "street": "Chiyoda"},
    {
        "country": "CA",
        "city": "Ottawa",
        "region": "ON",
        "postcode": "K1A 0B1",
        "street": "Wellington St",
    },
    {"country": "CN", "city": "Beijing", "postcode": "100000", "street": "Chang'an Avenue"},
]
GOODS = [
    ("Cotton T-shirt", "610910", 200, 1500),
    ("Leather wallet", "420231", 150, 4500),
    ("Paperback novel", "490199", 300, 899),
    ("Ceramic coffee mug", "691200", 350, 1200),
    ("Wool scarf", "611710", 180, 3500),
    ("Silver earrings", "711311", 20, 9900),
    ("Board game", "950490", 900, 2999),
    ("Loose leaf black tea 250g", "090230", 260, 1100),
]
SERVICES = ["tracked", "tracked", "signed", "parcel", "standard_letter", "express"]
DEMO_CUSTOMERS = ["Thistle & Thread Ltd", "Cotswold Ceramics", "Brick Lane Books"]


@dataclass
class DemoResult:
    customers: int
    items: list[ItemRecord]


def demo_item(rng: random.Random) -> dict[str, Any]:
    dest = rng.choice(DESTINATIONS)
    service = rng.choice(SERVICES)
    documents = service == "standard_letter" and rng.random() < 0.5
    lines: list[dict[str, Any]] = []
    if not documents:
        for _ in range(rng.randint(1, 3)):
            name, hs, weight, value = rng.choice(GOODS)
            qty = rng.randint(1, 2)
            lines.append(
                {"description": name, "quantity": qty, "net_weight_g": weight * qty,
                 "value_minor": value * qty, "currency": "GBP", "hs_code": hs,
                 "origin_country": "GB"}
            )  # fmt: skip
    net = sum(line["net_weight_g"] for line in lines)
    limit = 2000 if service in ("tracked", "signed", "standard_letter") else 30000
    while lines and net + 200 > limit:
        net -= lines.pop()["net_weight_g"]
    if not lines:
        documents = True
    addressee: dict[str, Any] = {
        "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "address_lines": [f"{rng.randint(1, 250)} {dest['street']}"],
        "city": dest["city"],
        "postcode": dest["postcode"],
        "country": dest["country"],
        "email": f"customer{rng.randint(1000, 9999)}@example.net",
    }
    if "region" in dest:
        addressee["region"] = dest["region"]
    return {
        "service": service if not documents or service == "standard_letter" else "standard_letter",
        "reference": f"ORDER-{rng.randint(10000, 99999)}",
        "sender": {
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "company": "Demo Sender Ltd",
            "address_lines": [f"{rng.randint(1, 99)} Bath Road"],
            "city": "Hounslow",
            "postcode": "TW6 2AA",
            "country": "GB",
            "phone": "+44 20 7946 0018",
        },
        "addressee": addressee,
        "weight_g": max(net + rng.randint(50, 200), 20),
        "contents": {"category": "documents" if documents else "sale_of_goods", "lines": lines},
    }


def seed_demo(ctx: Context, items_per_customer: int = 40, seed: int = 2023) -> DemoResult:
    """Create the demo customers and their items unless customers already exist."""
    if list_customers(ctx):
        return DemoResult(0, [])
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    made: list[ItemRecord] = []
    for name in DEMO_CUSTOMERS:
        customer = create_customer(ctx, name, actor="demo")
        advices = [parse_pre_advice(demo_item(rng)) for _ in range(items_per_customer)]
        made.extend(pre_advise(ctx, customer.record.id, advices))
    return DemoResult(len(DEMO_CUSTOMERS), made)


# Console sign-ins of the local demo only: fixed, printed passwords are fine for a node
# on 127.0.0.1 with made-up data, never for anything else.
DEMO_PASSWORD = "postex-demo-password"  # noqa: S105 - the demo's printed sign-in
DEMO_STAFF = (("clerk.demo", "clerk"), ("supervisor.demo", "supervisor"), ("ops.demo", "ops"))


def seed_demo_staff(ctx: Context) -> list[tuple[str, str, str]]:
    """Create the demo staff users (site-bound ones at ``ctx.site``) unless they exist;
    returns (username, role, password) of each, for the demo to print."""
    for name, role in DEMO_STAFF:
        with ctx.store.read() as uow:
            exists = uow.repo(UserRepository).by_username(name) is not None
        if not exists:
            site = ctx.site if role in ("clerk", "supervisor") else None
            create_user(ctx, name, role, site, password=DEMO_PASSWORD,
                        actor={"kind": "demo", "id": "demo", "role": "admin"})  # fmt: skip
    return [(name, role, DEMO_PASSWORD) for name, role in DEMO_STAFF]
