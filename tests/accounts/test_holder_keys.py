"""Partners' and staff users' API keys: listed, revoked and rotated like customers' keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from postex.cli.main import app as cli
from postex.server import create_app
from tests.conftest import make_node


def run(db: str, home: Path, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, [*args, "--db", db, "--home", str(home), "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 else result.output


@pytest.mark.parametrize(
    ("create", "token_field", "route"),
    [
        (["partners", "create", "--name", "USPS", "--impc", "USJFKA"], "api_key",
         "/api/v1/partner/quarantine"),
        (["users", "create", "--username", "j.smith", "--role", "clerk", "--site", "GBLALA"],
         "token", "/api/v1/sites/GBLALA/receptacles"),
    ],
    ids=["partner", "staff"],
)  # fmt: skip
def test_revoked_holder_key_gets_401_and_the_rotated_one_works(
    tmp_path: Path, db_url: str, create: list[str], token_field: str, route: str
) -> None:
    home = tmp_path / "home"
    node = make_node(home, db_url)
    group = create[0]
    created = run(db_url, home, *create)
    holder, first = str(created["id"]), str(created[token_field])
    client = TestClient(create_app(node))
    auth = {"Authorization": f"Bearer {first}"}
    assert client.get(route, headers=auth).status_code == 200
    [key] = run(db_url, home, group, "keys", "list", holder)["keys"]
    assert first.startswith(key["prefix"] + "_") and first not in json.dumps(key)
    rotated = run(db_url, home, group, "keys", "rotate", holder, "--reason", "staff left")
    assert client.get(route, headers=auth).status_code == 401
    fresh = {"Authorization": f"Bearer {rotated['api_key']}"}
    assert client.get(route, headers=fresh).status_code == 200
    run(db_url, home, group, "keys", "revoke", holder, str(rotated["key_id"]))
    assert client.get(route, headers=fresh).status_code == 401
    # another holder's key is not this one's to revoke; unknown holders are refused
    run(db_url, home, group, "keys", "revoke", "ptn_unknown", str(rotated["key_id"]), code=2)
    node.close()
