"""A connection problem is exit 2 with one line saying what to check — never an
"integrity failure", never a traceback, never the URL's password; `--json` errors are one
JSON document on stdout. Data that is read and found wrong stays an integrity failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from postex.cli.common import _connection_problem
from postex.cli.main import app

runner = CliRunner()
REFUSED = "postgresql://postgres:s3cret-pw@127.0.0.1:1/postex"  # nothing listens on port 1


@pytest.fixture
def home(tmp_path: Path) -> Path:
    assert runner.invoke(app, ["init", "--home", str(tmp_path)]).exit_code == 0
    return tmp_path


@pytest.mark.parametrize(
    ("command", "db", "says"),
    [
        (["verify"], REFUSED, "cannot reach the database postgresql://postgres:***@127.0.0.1:1"),
        (["customers", "list"], REFUSED, "cannot reach the database"),
        (["holds", "list"], REFUSED, "cannot reach the database"),
        (["audit"], REFUSED, "cannot reach the database"),
        (["rebuild"], REFUSED, "cannot reach the database"),
        (["verify"], "hello", "the database URL is not one Postex can use"),
        (["verify"], "sqlite:////no/such/folder/postex.db", "unable to open database file"),
    ],
)
def test_a_database_that_cannot_be_reached_is_one_line_and_exit_2(
    home: Path, command: list[str], db: str, says: str
) -> None:
    result = runner.invoke(app, [*command, "--db", db, "--home", str(home)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert "integrity" not in result.output.lower() and "Traceback" not in result.output
    assert "s3cret-pw" not in result.output
    assert "check the URL" in lines[0] or "expected sqlite" in lines[0]


def test_a_json_error_is_one_document_on_stdout(home: Path) -> None:
    result = runner.invoke(app, ["verify", "--json", "--db", REFUSED, "--home", str(home)])
    assert result.exit_code == 2
    [line] = result.stdout.splitlines()
    doc = json.loads(line)
    assert doc["ok"] is False and doc["exit_code"] == 2
    assert doc["error"]["type"] == "store-unreachable" and "s3cret" not in line


def test_a_file_that_is_not_a_database_is_still_an_integrity_failure(home: Path) -> None:
    """Ransomware's encrypted file opens but holds no database: data read and found wrong."""
    damaged = home / "encrypted.db"
    damaged.write_bytes(b"\x8f\x13 encrypted by someone else " * 4096)
    result = runner.invoke(app, ["verify", "--db", f"sqlite:///{damaged}", "--home", str(home)])
    assert result.exit_code == 1, result.output
    assert "integrity failure" in result.stderr


def test_a_connection_lost_mid_command_is_a_connection_problem() -> None:
    lost = OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))
    problem = _connection_problem(lost)
    assert problem is not None and "lost the database connection" in problem.detail
    assert _connection_problem(ValueError("not a driver error")) is None


def test_restore_refuses_to_start_without_the_sites_keys_and_names_them(tmp_path: Path) -> None:
    """New keys made in their place would leave the log sealed and its signatures untrusted."""
    backup = tmp_path / "backup"
    backup.mkdir()
    home = tmp_path / "new-machine"
    result = runner.invoke(
        app, ["restore", "--site", "GBLALA", "--from", str(backup), "--home", str(home)]
    )
    assert result.exit_code == 2, result.output
    assert "kek.json" in result.stderr and "signing-GBLALA.json" in result.stderr
    assert not (home / "keys").exists() and not (home / "postex.db").exists()
