"""Data at rest: what Postex creates (home, keys, SQLite files, backups) is its owner's only.

Files are 0600 and folders 0700 whatever the umask (issue #15 part 8).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex.cli.main import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: 0644 files, 0755 folders unless set explicitly
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _assert_private(root: Path) -> None:
    wrong = {}
    for path in [root, *root.rglob("*")]:
        want = 0o700 if path.is_dir() else 0o600
        if _mode(path) != want:
            wrong[str(path.relative_to(root.parent))] = oct(_mode(path))
    assert not wrong, wrong


def test_init_creates_a_private_home_keys_and_database(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = runner.invoke(app, ["init", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert (home / "postex.db").exists() and (home / "keys").is_dir()
    _assert_private(home)


def test_a_demo_node_writes_private_database_wal_and_shm(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--home", str(home), "--seed-only"])
    assert result.exit_code == 0, result.output
    _assert_private(home)
    assert _mode(home / "postex.db") == 0o600


def test_sqlite_wal_and_shm_follow_the_database_mode(tmp_path: Path) -> None:
    from postex.eventlog.sql.engine import make_engine

    db = tmp_path / "x.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        modes = {p.name: _mode(p) for p in tmp_path.iterdir()}
    engine.dispose()
    assert modes.get("x.db-wal") == 0o600 and modes.get("x.db-shm") == 0o600, modes
    assert modes["x.db"] == 0o600


def test_backup_files_and_folders_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    out = tmp_path / "backups" / "first"
    result = runner.invoke(app, ["backup", "--to", str(out), "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert (out / "manifest.json").exists()
    _assert_private(tmp_path / "backups")
