"""Account names are sealed like other personal data (issue #15 part 8).

``customer.created.v2`` seals the name under the customer's data key and
``credential.issued.v2`` carries no customer's name, so after `postex customers erase`
(the data key destroyed) the name is in no event body, on no node and in no backup. Logs
written before keep their ``v1`` bodies (read by upcasters): the projections still blank
the name at erasure, but those old bodies cannot be rewritten.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from fastapi.testclient import TestClient

from postex.accounts.app.auth import CredentialRepository, Role, authenticate, issue_token
from postex.accounts.app.customers import erase_customer, list_customers
from postex.bootstrap import CATALOGUE, Container, replication
from postex.eventlog.events import NewEvent
from postex.eventlog.sql.admin import execute_raw
from tests.factories import new_customer

MARK = "Zqx Marked Sole Trader 7731"


def _bodies(node: Container) -> bytes:
    return b"\n".join(bytes(r[0]) for r in execute_raw(node.engine, "SELECT body FROM events"))


def _backup_bytes(directory: Path) -> bytes:
    found = b""
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            raw = path.read_bytes()
            found += gzip.decompress(raw) if path.suffix == ".gz" else raw
    return found


def test_the_name_is_sealed_in_the_log_and_gone_everywhere_after_erasure(
    node: Container, client: TestClient, tmp_path: Path
) -> None:
    created = new_customer(node, MARK)
    cus = created.record.id
    # Before erasure: the projections and the API work as before, the log holds no name.
    assert created.record.name == MARK
    assert [c.name for c in list_customers(node.ctx) if c.id == cus] == [MARK]
    with node.ctx.store.read() as uow:
        who = authenticate(uow.repo(CredentialRepository), created.api_key)
    assert who.name == MARK and who.subject == cus
    r = client.get("/api/v1/items", headers={"Authorization": f"Bearer {created.api_key}"})
    assert r.status_code == 200
    assert MARK.encode() not in _bodies(node)
    types = {r[0] for r in execute_raw(node.engine, "SELECT type FROM events")}
    assert {"customer.created.v2", "credential.issued.v2"} <= types
    live = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()  # the name is opened again under the data key
    assert node.rebuilder.projection_digest() == live
    assert [c.name for c in list_customers(node.ctx) if c.id == cus] == [MARK]

    erase_customer(node.ctx, cus, reason="erasure request")
    replication(node).backup_writer().write(tmp_path / "backup")
    node.rebuilder.rebuild()
    assert MARK.encode() not in _bodies(node)
    assert MARK.encode() not in _backup_bytes(tmp_path / "backup")
    for table, column in (("customers", "name"), ("credentials", "name")):
        values = [r[0] for r in execute_raw(node.engine, f"SELECT {column} FROM {table}")]
        assert MARK not in values


def test_a_v1_log_still_reads_and_erasure_blanks_its_projections(node: Container) -> None:
    """An account opened by an older node (v1 bodies, name in clear) reads as before; its
    erasure blanks the projections, though the old bodies keep the name (documented)."""
    cus = "cus_v1oldaccount"
    token = issue_token("customer", cus, Role.CUSTOMER)
    v1_key = {**token.event.to_body(), "name": MARK}
    with node.ctx.store.write(node.ctx.site) as uow:
        node.vault.create_key(uow, cus)
        uow.append([
            NewEvent("customer.created.v1", {"customer_id": cus, "name": MARK, "actor": "cli"}),
            NewEvent("credential.issued.v1", v1_key),
        ])  # fmt: skip
    assert CATALOGUE.current_type("customer.created.v1") == "customer.created.v2"
    assert [c.name for c in list_customers(node.ctx) if c.id == cus] == [MARK]
    with node.ctx.store.read() as uow:
        assert authenticate(uow.repo(CredentialRepository), token.token).name == MARK
    live = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live
    erase_customer(node.ctx, cus, reason="erasure request")
    node.rebuilder.rebuild()
    assert [c.name for c in list_customers(node.ctx) if c.id == cus] == [""]
    names = {r[0] for r in execute_raw(node.engine, "SELECT name FROM credentials")}
    assert MARK not in names
    assert MARK.encode() in _bodies(node)  # the v1 bodies cannot be rewritten
