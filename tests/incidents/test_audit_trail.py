"""The audit trail: filters, cursor pages, who may read it, and audited CLI actions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Role
from postex.accounts.app.customers import erase_customer
from postex.accounts.app.keys import rotate_kek
from postex.bootstrap import Container
from postex.incidents.app.audit_trail import make_filter, read_audit
from tests.factories import ManualClock, new_customer
from tests.incidents.incident_helpers import bearer, staff


def _record(node: Container, actor: str, action: str, target: str) -> None:
    with node.ctx.store.write(node.ctx.site) as uow:
        uow.append([audit_event({"kind": "staff", "id": actor, "role": "ops"}, action, target)])


def test_filters_and_cursor_pages_walk_the_whole_trail_newest_first(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """Pages of two follow each other without gaps or repeats; filters narrow the trail."""
    _, token = staff(node, "usr_aud", Role.AUDITOR)
    for n in range(5):
        clock.advance(minutes=1)
        _record(node, "usr_a" if n % 2 else "usr_b", f"hold.step{n}", f"hold_{n}")
    mid = clock.now().isoformat()
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "action": "hold.*"} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/audit", params=params, headers=bearer(token)).json()
        seen += [e["action"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"hold.step{n}" for n in reversed(range(5))]
    by_actor = client.get("/api/v1/audit", params={"actor": "usr_a"}, headers=bearer(token))
    assert [e["target"] for e in by_actor.json()["entries"]] == ["hold_3", "hold_1"]
    before = client.get("/api/v1/audit", params={"until": mid, "action": "hold.*"},
                         headers=bearer(token)).json()["entries"]  # fmt: skip
    assert [e["action"] for e in before] == [f"hold.step{n}" for n in (3, 2, 1, 0)]
    one = client.get("/api/v1/audit", params={"target": "hold_2"}, headers=bearer(token))
    assert [e["action"] for e in one.json()["entries"]] == ["hold.step2"]


def test_only_auditors_and_ops_read_the_trail(node: Container, client: TestClient) -> None:
    """Clerks and customers are refused; ops may read; no token is 401."""
    customer = new_customer(node)
    _, clerk = staff(node, "usr_c", Role.CLERK, site="GBLALA")
    _, ops = staff(node, "usr_o", Role.OPS)
    assert client.get("/api/v1/audit").status_code == 401
    assert client.get("/api/v1/audit", headers=bearer(customer.api_key)).status_code == 403
    assert client.get("/api/v1/audit", headers=bearer(clerk)).status_code == 403
    assert client.get("/api/v1/audit", headers=bearer(ops)).status_code == 200


def test_bad_filters_and_cursors_are_problems(node: Container, client: TestClient) -> None:
    """A malformed time or cursor names its field; nothing crashes."""
    _, token = staff(node, "usr_aud", Role.AUDITOR)
    for params, field in (({"since": "yesterday"}, "since"), ({"cursor": "%%%"}, "cursor"),
                          ({"cursor": "bm90aGluZw"}, "cursor")):  # fmt: skip
        r = client.get("/api/v1/audit", params=params, headers=bearer(token))
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field


def test_customer_erasure_and_key_rotation_are_audited(node: Container) -> None:
    """`customers create|erase` and `keys rotate` leave audit entries with their reason."""
    customer = new_customer(node)
    erase_customer(node.ctx, customer.record.id, actor="cli", reason="GDPR request 114")
    rotation = rotate_kek(node.ctx, node.kek)
    page = read_audit(node.ctx, make_filter(actor="cli"))
    got = {(e.action, e.target, e.reason) for e in page.entries}
    assert ("customer.created", customer.record.id, "") in got
    assert ("customer.erased", customer.record.id, "GDPR request 114") in got
    assert ("keys.rotated", rotation.new_kek_id, "") in got
