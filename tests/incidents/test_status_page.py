"""Public advisories and the status page: visible to anyone, escaped, no internal reason."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postex.accounts.app.auth import Role
from postex.bootstrap import Container
from tests.incidents.incident_helpers import bearer, staff

EVIL = '<script>alert("x")</script> Hold parcels to France & Germany.'


def test_status_page_escapes_advisories_and_hides_the_reason(
    node: Container, client: TestClient
) -> None:
    """Advisory text is shown escaped, with scope and start; the internal reason is not."""
    assert "running normally" in client.get("/status").text
    _, ops = staff(node, "usr_ops", Role.OPS)
    body = {"scope": {"destinations": ["FR", "DE"], "services": ["parcel"]},
            "reason": "SECRET-ransom-note", "advisory": EVIL, "emergency": True}  # fmt: skip
    hold = client.post("/api/v1/holds", headers=bearer(ops), json=body).json()
    page = client.get("/status")
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "France (FR)" in html and "Germany (DE)" in html
    assert "SECRET" not in html
    assert "Affected: Germany (DE), France (FR)" in html  # the parcel row
    adv = client.get("/api/v1/advisories", params={"destination": "FR"}).json()
    assert [a["text"] for a in adv] == [EVIL]
    assert "SECRET" not in str(adv)
    assert client.get("/api/v1/advisories", params={"destination": "US"}).json() == []
    upd = client.post(f"/api/v1/advisories/{hold['advisory_id']}/updates", headers=bearer(ops),
                       json={"text": "Germany resumes Monday."})  # fmt: skip
    assert upd.status_code == 200
    assert "Germany resumes Monday." in client.get("/status").text


def test_internal_hold_publishes_no_advisory(node: Container, client: TestClient) -> None:
    """A hold that is not customer-facing refuses actions but shows nothing publicly."""
    _, ops = staff(node, "usr_ops", Role.OPS)
    body = {"scope": {"sites": ["GBBELC"]}, "reason": "drill", "customer_facing": False}
    r = client.post("/api/v1/holds", headers=bearer(ops), json=body)
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/advisories").json() == []
