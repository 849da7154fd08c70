"""Whatever a partner sends, the answer is a result or a problem, never a 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postex.bootstrap import Container
from tests.strategies import partner_payloads as payloads
from tests.tracking.conftest import auth, partner_key

URL = "/api/v1/partner/events"


@pytest.fixture
def node_settings() -> dict[str, object]:
    """The default settings: private webhook addresses stay refused here."""
    return {}


@pytest.mark.sqlite_only
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=payloads, partial=st.booleans())
def test_any_json_gets_a_result_or_a_problem(
    node: Container, client: TestClient, payload: object, partial: bool
) -> None:
    """Random JSON bodies give 200 or a 422 problem naming field and rule."""
    key = partner_key(node)
    r = client.post(
        URL,
        params={"partial": str(partial).lower()},
        content=json.dumps(payload),
        headers={**auth(key), "Content-Type": "application/json"},
    )
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        assert {"field", "rule"} <= set(r.json())


@pytest.mark.sqlite_only
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_file_gets_a_result_or_a_problem(
    node: Container, client: TestClient, data: bytes
) -> None:
    """Random bytes as a CSV upload give 200 or a 422 problem, never a server error."""
    key = partner_key(node)
    header = b"item_id,event_code,occurred_at,office,reason_code,next_office\n"
    for body in (data, header + data):
        r = client.post(URL, content=body, headers={**auth(key), "Content-Type": "text/csv"})
        assert r.status_code in (200, 422), r.text


@pytest.mark.sqlite_only
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(url=st.text(max_size=60) | st.text(max_size=40).map(lambda t: "https://" + t))
def test_any_webhook_url_is_accepted_or_refused_and_never_crashes_the_sender(
    node: Container, client: TestClient, url: str
) -> None:
    """Any URL gives 201 or a 422 problem; the sender reports refused ones, never raises."""
    from tests.factories import new_customer

    customer = new_customer(node)
    r = client.post("/api/v1/webhooks", json={"url": url}, headers=auth(customer.api_key))
    assert r.status_code in (201, 422), r.text
    if r.status_code == 422:  # the odd ones; valid public URLs would go out to the network
        outcome = node.webhook_sender_factory(False).post(url, b"{}", {})
        assert not outcome.ok
