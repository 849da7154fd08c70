"""Logs: one JSON line per request with its id, caller, route template, status and duration,
and, over a whole day at a site logged at DEBUG, not one personal datum, token or secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex import logs
from postex.accounts.app.auth import Role
from postex.accounts.app.customers import erase_customer
from postex.bootstrap import Container
from postex.tracking.app.webhooks import deliver_due
from tests import factories
from tests.factories import Caller, item_payload, make_caller
from tests.incidents.incident_helpers import bearer
from tests.incidents.incident_helpers import staff as incident_staff
from tests.tracking.conftest import Receiver

MARK = "zqxv"  # in every personal datum below; no log line may hold it, in any case
PERSON = {
    "name": "Margaret Thistlewood", "company": "Zqxv Thread Ltd",
    "address_lines": ["14 Zqxv Lane"], "city": "Zqxvton", "postcode": "SW1A 1AA",
    "country": "GB", "phone": "+44 20 7946 0713", "email": "zqxv.margaret@example.co.uk",
}  # fmt: skip
ADDRESSEE = {
    "name": "Bartholomew Quincey", "address_lines": ["2200 Zqxv Boulevard"],
    "city": "New York", "region": "NY", "postcode": "10001", "country": "US",
    "phone": "+1 212 555 0713", "email": "zqxv.bart@example.com",
}  # fmt: skip
# The day's own checks look for these names in its documents: they are searched for too.
PERSONAL = ("7946 0713", "555 0713", "Thistlewood", "Bartholomew", "Quincey")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logs.configure("json", "debug", stream=stream)
    yield stream
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "postex"]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_request_line_names_id_caller_route_status_and_duration(
    client: TestClient, alice: Caller, captured: io.StringIO
) -> None:
    r = client.get("/api/v1/items", headers={**alice.headers, "X-Request-ID": "trace-42.a_b"})
    assert r.headers["x-request-id"] == "trace-42.a_b"
    bad = client.get("/healthz", headers={"X-Request-ID": "has spaces; and/a slash"})
    generated = bad.headers["x-request-id"]
    assert len(generated) == 32 and generated != "has spaces; and/a slash"
    requests = [line for line in lines(captured) if line["event"] == "request"]
    first = requests[0]
    assert first["request_id"] == "trace-42.a_b"
    assert (first["caller_kind"], first["caller_id"]) == ("customer", alice.id)
    assert (first["route"], first["status"], first["method"]) == ("/api/v1/items", 200, "GET")
    assert isinstance(first["duration_ms"], float)
    assert requests[1]["request_id"] == generated and requests[1]["caller_kind"] is None
    assert alice.api_key not in captured.getvalue()


def test_a_secret_in_a_message_is_blanked(captured: io.StringIO) -> None:
    logging.getLogger("postex.test").warning("oops pxk_abc_def and Bearer s3cr3t-t0ken")
    text = captured.getvalue()
    assert "pxk_abc" not in text and "s3cr3t" not in text and "[redacted]" in text


@pytest.mark.node(webhook_allow_private=True)
def test_a_full_day_logs_no_personal_data_token_or_secret(
    node: Container,
    client: TestClient,
    receiver: Receiver,
    captured: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pre-advice with marked personal data, acceptance, bags, despatch, handover, carrier
    receipts, webhooks, a replay, refused input, a hold and an erasure, all at DEBUG."""
    from tests.sites.test_site_day import test_a_day_at_heathrow_from_pre_advice_to_delivery

    # Every item the day's factories make carries the marked sender and addressee.
    monkeypatch.setitem(factories.ITEM, "sender", PERSON)
    monkeypatch.setitem(factories.ITEM, "addressee", ADDRESSEE)
    monkeypatch.setitem(factories.DOCUMENTS_LETTER, "sender", PERSON)
    monkeypatch.setitem(factories.DOCUMENTS_LETTER, "addressee", ADDRESSEE)
    test_a_day_at_heathrow_from_pre_advice_to_delivery(node, client)

    customer = make_caller(node, "Zqxv Exports Ltd")
    hook = client.post("/api/v1/webhooks", json={"url": receiver.url + "?key=zqxvhooksecret"},
                       headers=customer.headers)  # fmt: skip
    assert hook.status_code == 201, hook.text
    keyed = {**customer.headers, "Idempotency-Key": "zqxv-key-1"}
    item = client.post("/api/v1/items", json=item_payload(reference="ZQXV-REF"), headers=keyed)
    assert item.status_code == 201, item.text
    again = client.post("/api/v1/items", json=item_payload(reference="ZQXV-REF"), headers=keyed)
    assert again.headers.get("Idempotent-Replayed") == "true"
    refused = item_payload(weight_g=-5, reference="ZQXV-BAD\u0007")
    assert client.post("/api/v1/items", json=refused, headers=customer.headers).status_code == 422
    bad_key = {"Authorization": "Bearer pxk_zqxvnotakey_zqxvsecret"}
    assert client.get("/api/v1/items", headers=bad_key).status_code == 401

    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) >= 1
    _, ops = incident_staff(node, "usr_ops_day", Role.OPS)
    _, sup = incident_staff(node, "usr_sup_day", Role.SUPERVISOR, site="GBLALA")
    hold = {"scope": {"sites": ["GBLALA"]}, "reason": "power cut", "advisory": "Paused."}
    assert client.post("/api/v1/holds", headers=bearer(sup), json=hold).status_code == 201
    erase_customer(node.ctx, customer.id, reason="asked")
    node.vault.forget_cached()
    item_id = item.json()["id"]
    assert client.get(f"/api/v1/items/{item_id}", headers=customer.headers).status_code == 200
    assert client.get(f"/api/v1/tracking/{item_id}").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/readyz", headers=bearer(ops)).status_code == 200

    text = captured.getvalue()
    every = lines(captured)  # every line is one JSON object
    requests = [line for line in every if line["event"] == "request"]
    assert len(requests) > 30
    assert all(r["request_id"] and r["route"] and r["status"] for r in requests)
    assert MARK not in text.lower(), [line for line in every if MARK in json.dumps(line).lower()]
    for secret in (customer.api_key, ops, sup, *PERSONAL, "hooksecret", "ORDER-1042"):
        assert secret not in text
