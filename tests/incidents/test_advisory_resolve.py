"""Resolving an advisory early: ops only, audited, once; the hold's release later does
not close it a second time."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postex.accounts.app.auth import Role
from postex.bootstrap import Container
from postex.incidents.app.holds import place_hold, release_hold
from tests.incidents.incident_helpers import bearer, staff

HOLD = {"scope": {"sites": ["GBLALA"], "destinations": ["US"]}, "reason": "customs down",
        "advisory": "Items for the US wait at Heathrow."}  # fmt: skip


def test_ops_resolve_an_advisory_once_and_the_release_leaves_it_alone(
    node: Container, client: TestClient
) -> None:
    boss, _ = staff(node, "usr_boss", Role.SUPERVISOR, site="GBLALA")
    _, ops = staff(node, "usr_ops", Role.OPS)
    _, clerk = staff(node, "usr_clerk", Role.CLERK, site="GBLALA")
    hold = place_hold(node.ctx, boss, HOLD)
    url = f"/api/v1/advisories/{hold.advisory_id}/resolve"
    assert client.post(url, json={"text": "x"}, headers=bearer(clerk)).status_code == 403
    assert client.post(url, json={"text": ""}, headers=bearer(ops)).status_code == 422
    r = client.post(url, json={"text": "Exports have resumed."}, headers=bearer(ops))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved"
    assert r.json()["updates"][-1]["text"] == "Exports have resumed."
    assert client.post(url, json={"text": "again"}, headers=bearer(ops)).status_code == 409
    release_hold(node.ctx, boss, hold.id, {"reason": "over"})
    closed = [e for e in node.store.read_events("GBLALA") if e.type == "advisory.closed.v1"]
    assert len(closed) == 1
    audit = client.get("/api/v1/audit", params={"action": "advisory.resolved"},
                       headers=bearer(ops)).json()["entries"]  # fmt: skip
    assert [(e["target"], e["actor"]["id"]) for e in audit] == [(hold.advisory_id, "usr_ops")]
