"""API keys: listing by prefix, revoking and rotating, through the CLI and over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from postex.accounts.app.api_keys import list_keys, revoke_key, rotate_key
from postex.bootstrap import Container
from postex.cli.main import app as cli
from postex.kernel.errors import InvalidStateError, NotFoundError, ValidationError
from tests.factories import make_caller

ACTOR = {"kind": "test", "id": "keys"}


def run(home: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_creates_lists_rotates_and_revokes_keys(tmp_path: Path) -> None:
    """The CLI prints a key once, lists prefixes only, and a rotated key stops working."""
    home = tmp_path / "home"
    assert CliRunner().invoke(cli, ["init", "--home", str(home)]).exit_code == 0
    created = run(home, "customers", "create", "--name", "Acme Exports")
    assert set(created) >= {"id", "api_key"}
    customer, first_key = str(created["id"]), str(created["api_key"])
    listed = run(home, "customers", "keys", "list", customer)
    [only] = listed["keys"]
    assert first_key.startswith(only["prefix"] + "_")
    assert first_key not in json.dumps(listed)
    rotated = run(home, "customers", "keys", "rotate", customer)
    assert rotated["revoked_key_id"] == only["key_id"]
    new_key = str(rotated["api_key"])
    states = {
        k["key_id"]: k["active"] for k in run(home, "customers", "keys", "list", customer)["keys"]
    }  # type: ignore[index]
    assert states == {only["key_id"]: False, rotated["key_id"]: True}
    revoked = run(home, "customers", "keys", "revoke", customer, str(rotated["key_id"]))
    assert revoked["revoked_at"]
    again = CliRunner().invoke(
        cli, ["customers", "keys", "revoke", customer, str(rotated["key_id"]), "--home", str(home)]
    )
    assert again.exit_code == 2
    assert new_key != first_key


def test_revoked_key_gets_401_and_rotated_key_works(node: Container, client: TestClient) -> None:
    """After rotation the old key is refused with 401 and the new key is served."""
    alice = make_caller(node, "Alice")
    assert client.get("/api/v1/items", headers=alice.headers).status_code == 200
    rotated = rotate_key(node.ctx, alice.id, ACTOR)
    old = client.get("/api/v1/items", headers=alice.headers)
    assert old.status_code == 401
    assert old.headers["www-authenticate"].startswith("Bearer")
    fresh = {"Authorization": f"Bearer {rotated.api_key}"}
    assert client.get("/api/v1/items", headers=fresh).status_code == 200


def test_keys_of_another_customer_cannot_be_touched(node: Container) -> None:
    """Revoking or rotating a key through the wrong customer is not found; nothing changes."""
    alice, bob = make_caller(node, "Alice"), make_caller(node, "Bob")
    with pytest.raises(NotFoundError):
        revoke_key(node.ctx, bob.id, alice.key_id, ACTOR)
    with pytest.raises(NotFoundError):
        rotate_key(node.ctx, bob.id, ACTOR, key_id=alice.key_id)
    assert all(k.active for k in list_keys(node.ctx, alice.id))


def test_rotation_must_name_the_key_when_several_are_active(node: Container) -> None:
    """With two active keys, rotation without --key is refused; revoking twice is refused."""
    alice = make_caller(node, "Alice")
    second = rotate_key(node.ctx, alice.id, ACTOR)
    third = rotate_key(node.ctx, alice.id, ACTOR, key_id=second.new_key_id)
    revoke_key(node.ctx, alice.id, third.new_key_id, ACTOR)
    with pytest.raises(InvalidStateError):
        revoke_key(node.ctx, alice.id, third.new_key_id, ACTOR)
    with pytest.raises(ValidationError):
        rotate_key(node.ctx, alice.id, ACTOR)  # no active key left to pick


def test_revocation_is_audited(node: Container) -> None:
    """Revoking a key appends an audit event naming the key and the reason."""
    alice = make_caller(node, "Alice")
    revoke_key(node.ctx, alice.id, alice.key_id, ACTOR, reason="leaked in a log")
    audits = [
        e.data for e in node.store.read_events(node.settings.site) if e.type == "audit.recorded.v1"
    ]
    assert any(
        a["action"] == "customer_key.revoked" and a["target"] == alice.key_id
        and a["reason"] == "leaked in a log"
        for a in audits
    )  # fmt: skip
