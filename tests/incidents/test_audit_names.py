"""The audit trail names its actors: staff usernames, customer and partner names, resolved
in the app layer for the console and ``GET /api/v1/audit`` alike (both stores)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postex.accounts.app.audit import audit_event
from postex.accounts.app.partners import create_partner
from postex.bootstrap import Container
from postex.incidents.app.audit_trail import actor_names, make_filter, read_audit, search_audit
from tests.factories import ManualClock, new_customer, staff
from tests.incidents.incident_helpers import bearer


def _record(node: Container, kind: str, actor: str, action: str) -> None:
    with node.ctx.store.write(node.ctx.site) as uow:
        uow.append([audit_event({"kind": kind, "id": actor, "role": "x"}, action, "t")])


def test_entries_name_staff_customers_and_partners(node: Container, clock: ManualClock) -> None:
    """Each entry keeps its recorded actor and gains the actor's name; an id nobody has
    (the CLI, an unknown user) keeps no name rather than a wrong one."""
    olga = staff(node, "ops", site=None, name="olga")
    customer = new_customer(node, "Thistle & Thread Ltd")
    partner = create_partner(node.ctx, "USPS", ("USJFKA",))
    for kind, actor in (("staff", olga.principal.subject), ("customer", customer.record.id),
                        ("partner", partner.record.id), ("cli", "cli"),
                        ("staff", "usr_gone")):  # fmt: skip
        clock.advance(seconds=1)
        _record(node, kind, actor, "test.named")
    page = search_audit(node.ctx, olga.principal, make_filter(action="test.named"))
    named = [(e.actor["id"], e.actor_name) for e in page.entries]
    assert named == [
        ("usr_gone", None),
        ("cli", None),
        (partner.record.id, "USPS"),
        (customer.record.id, "Thistle & Thread Ltd"),
        (olga.principal.subject, "olga"),
    ]
    names = actor_names(node.ctx, olga.principal, [olga.principal.subject, "", "nobody"])
    assert names == {olga.principal.subject: "olga"}


def test_a_staff_username_filters_as_its_id_and_a_site_narrows(
    node: Container, clock: ManualClock
) -> None:
    olga = staff(node, "ops", site=None, name="olga")
    _record(node, "staff", olga.principal.subject, "test.one")
    _record(node, "staff", "usr_other", "test.two")
    by_name = read_audit(node.ctx, make_filter(actor="olga", action="test.*"))
    by_id = read_audit(node.ctx, make_filter(actor=olga.principal.subject, action="test.*"))
    assert [e.action for e in by_name.entries] == [e.action for e in by_id.entries] == ["test.one"]
    here = read_audit(node.ctx, make_filter(action="test.*", site=node.ctx.site))
    elsewhere = read_audit(node.ctx, make_filter(action="test.*", site="GBBHXA"))
    assert len(here.entries) == 2
    assert elsewhere.entries == []


def test_the_api_adds_actor_name_and_keeps_every_field(node: Container, client: TestClient) -> None:
    auditor = staff(node, "auditor", site=None, name="audrey")
    olga = staff(node, "ops", site=None, name="olga")
    _record(node, "staff", olga.principal.subject, "test.api")
    r = client.get("/api/v1/audit", params={"action": "test.api"}, headers=bearer(auditor.token))
    (entry,) = r.json()["entries"]
    assert entry["actor_name"] == "olga"
    assert entry["actor"]["id"] == olga.principal.subject
    assert set(entry) == {"site", "seq", "at", "actor", "actor_name", "action", "target",
                          "reason", "details"}  # fmt: skip
    by_name = client.get("/api/v1/audit", params={"actor": "olga"}, headers=bearer(auditor.token))
    assert [e["action"] for e in by_name.json()["entries"]] == ["test.api"]
    bad = client.get("/api/v1/audit", params={"site": "NOWHERE"}, headers=bearer(auditor.token))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["rule"] == "unknown_site"
