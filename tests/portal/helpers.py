"""Helpers for portal tests: senders with passwords, sign-in, CSRF, manifests as CSV."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from postex.accounts.app.portal_users import create_customer_user
from postex.bootstrap import Container
from tests.factories import new_customer

PASSWORD = "parcel post password"
HEADER = [
    "reference", "service", "weight_g", "sender_name", "sender_address_line_1", "sender_city",
    "sender_postcode", "sender_country", "addressee_name", "addressee_address_line_1",
    "addressee_city", "addressee_region", "addressee_postcode", "addressee_country",
    "contents_category", "description", "quantity", "net_weight_g", "value_minor", "currency",
    "hs_code", "origin_country",
]  # fmt: skip
# Three ways a row breaks a rule, by row number (1-based, the header is line 1).
BREAKS = {
    "addressee_country": ("ZZ", "US"),
    "weight_g": ("heavy", "850"),
    "sender_name": ("=HYPERLINK(1)", "Margaret Thistlewood"),
}


@dataclass(frozen=True)
class Sender:
    customer_id: str
    username: str
    name: str


def sender(node: Container, business: str, username: str) -> Sender:
    """A customer account with one portal user."""
    created = new_customer(node, business)
    create_customer_user(node.ctx, created.record.id, username, PASSWORD)
    return Sender(created.record.id, username, business)


def post_sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    """The sign-in form as a browser sends it: its page first (for the form's token)."""
    token = csrf_of(client.get("/portal/sign-in").text)
    form = {"username": username, "password": password, "csrf_token": token}
    return client.post("/portal/sign-in", data=form, follow_redirects=False)


def portal_sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    r = post_sign_in(client, username, password)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def manifest_csv(n: int, bad: dict[int, str] | None = None, prefix: str = "ORD") -> bytes:
    """``n`` one-line items to the US; ``bad`` maps a row number (2…n+1, as the CSV's line)
    to the column of BREAKS it breaks."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    for i in range(n):
        line = i + 2
        row = {
            "reference": f"{prefix}-{i + 1:05d}", "service": "tracked", "weight_g": "850",
            "sender_name": "Margaret Thistlewood", "sender_address_line_1": "14 Marigold Lane",
            "sender_city": "London", "sender_postcode": "SW1A 1AA", "sender_country": "GB",
            "addressee_name": f"Customer {i + 1}", "addressee_address_line_1": "2200 Juniper Blvd",
            "addressee_city": "New York", "addressee_region": "NY", "addressee_postcode": "10001",
            "addressee_country": "US", "contents_category": "sale_of_goods",
            "description": "Cotton T-shirt", "quantity": "2", "net_weight_g": "400",
            "value_minor": "2500", "currency": "GBP", "hs_code": "610910", "origin_country": "GB",
        }  # fmt: skip
        column = (bad or {}).get(line)
        if column:
            row[column] = BREAKS[column][0]
        w.writerow([row[h] for h in HEADER])
    return out.getvalue().encode()
