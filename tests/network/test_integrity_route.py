"""GET /api/v1/integrity shows heads, checkpoints, lag and alarms to ops and auditors only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postex.accounts.app.auth import Role, issue_token
from postex.bootstrap import Container, replication
from tests.factories import new_customer, new_items


def _token(node: Container, role: Role) -> str:
    issued = issue_token("staff", f"usr_{role}", role, name=str(role))
    with node.store.write(node.settings.site) as uow:
        uow.append([issued.event])
    return issued.token


def test_auditor_sees_heads_checkpoints_and_alarms(node: Container, client: TestClient) -> None:
    """An auditor gets every site's head, newest checkpoint and the open integrity alarms."""
    customer = new_customer(node)
    new_items(node, customer.record.id, n=3)
    token = _token(node, Role.AUDITOR)
    node.admin.checkpoint_now("GBLALA")
    replication(node).state.raise_alarm("GBLALA", 7, "broken-chain", "hash", "2026-01-01T00:00Z")
    r = client.get("/api/v1/integrity", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    body = r.json()
    site = next(s for s in body["sites"] if s["site"] == "GBLALA")
    assert site["head_seq"] == node.store.head("GBLALA")[0]
    assert site["checkpoint"]["seq"] == site["head_seq"]
    assert site["checkpoint"]["witnessed"] is False
    assert (7, "broken-chain") in [(a["seq"], a["kind"]) for a in body["alarms"]]


def test_customer_may_not_read_integrity(node: Container, client: TestClient) -> None:
    """A customer's API key is refused with 403."""
    customer = new_customer(node)
    r = client.get("/api/v1/integrity", headers={"Authorization": f"Bearer {customer.api_key}"})
    assert r.status_code == 403


def test_cleared_alarm_leaves_the_overview_and_is_audited(node: Container) -> None:
    """Clearing an alarm needs a reason, closes it, and records who cleared it in the log."""
    import pytest

    from postex.kernel.errors import NotFoundError, ValidationError
    from postex.network.app.status import clear_alarm, integrity_overview

    state = replication(node).state
    state.raise_alarm("GBLGWA", 9, "broken-chain", "hash", "2026-01-01T00:00:00.000000Z")
    alarm_id = next(a.id for a in state.alarms() if (a.site, a.seq) == ("GBLGWA", 9))
    actor = {"kind": "staff", "id": "usr_1"}
    with pytest.raises(ValidationError):
        clear_alarm(node.store, state, "GBLALA", alarm_id, " ", actor, "2026-01-02T00:00Z")
    head = node.store.head("GBLALA")[0]
    clear_alarm(node.store, state, "GBLALA", alarm_id, "INC-1: restored", actor, "2026-01-02")
    shown = integrity_overview(node.store, state, "hub", "GBLALA")["alarms"]
    assert alarm_id not in [a["id"] for a in shown]
    last = list(node.store.read_events("GBLALA", head))[-1]
    assert last.data["action"] == "integrity.alarm_cleared"
    assert last.data["details"]["seq"] == 9
    with pytest.raises(NotFoundError):
        clear_alarm(node.store, state, "GBLALA", alarm_id, "again", actor, "2026-01-03")
