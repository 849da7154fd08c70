"""Realistic pre-advice payloads for the demo node, drills and benchmarks (seeded, no I/O)."""

from __future__ import annotations

import random
from typing import Any

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
    {
        "country": "JP",
        "city": "Chiyoda-ku",
        "region": "Tokyo",
        "postcode": "100-0001",
        "street": "1-1 Marunouchi",
    },
    {
        "country": "CA",
        "city": "Ottawa",
        "region": "ON",
        "postcode": "K1A 0B1",
        "street": "Wellington St",
    },
    {
        "country": "CN",
        "city": "Beijing",
        "region": "Beijing Shi",
        "postcode": "100000",
        "street": "Chang'an Avenue",
    },
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
