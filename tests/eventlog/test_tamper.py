"""Tampering with a populated log is found by `postex verify`, naming site and seq."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from postex.bootstrap import Container
from postex.cli.main import app
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres
from postex.items.app.preadvice import cancel_item
from postex.network.app.integrity import verify_store
from tests.conftest import make_node
from tests.factories import new_customer, new_items

SITE = "GBLALA"
runner = CliRunner()


def populate(node: Container) -> None:
    """About 40 events with checkpoints every 10."""
    node.store.checkpoint_every = 10
    customer = new_customer(node)
    items = new_items(node, customer.record.id, 12)
    new_items(node, customer.record.id, 12, service="parcel", weight_g=4000)
    for item in items[:5]:
        cancel_item(node.ctx, customer.record.id, item.id)
    node.admin.checkpoint_now(SITE)


def verify_cli(node: Container) -> tuple[int, dict[str, object]]:
    result = runner.invoke(
        app,
        ["verify", "--db", node.settings.db_url, "--home", str(node.settings.home), "--json"],
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return result.exit_code, report


def first_bad(report: dict[str, object]) -> tuple[str, int]:
    sites = report["sites"]
    assert isinstance(sites, list)
    bad = [s for s in sites if s["first_bad_seq"] is not None]
    return bad[0]["site"], bad[0]["first_bad_seq"]


@pytest.fixture
def populated(node: Container) -> Container:
    populate(node)
    return node


def q(node: Container, sql: str) -> str:
    return sql.replace("?", "%s") if is_postgres(node.engine) else sql


def test_an_untouched_log_verifies(populated: Container) -> None:
    """A populated log with checkpoints passes with exit code 0."""
    code, report = verify_cli(populated)
    assert code == 0
    assert report["ok"] is True


def test_one_changed_byte_of_a_body_is_found(populated: Container) -> None:
    """Flipping one byte of one body is reported at that seq."""
    (body,) = execute_raw(populated.engine, q(populated, "SELECT body FROM events WHERE seq = 7"))[
        0
    ]
    changed = bytearray(bytes(body))
    changed[20] ^= 0x01
    execute_raw(
        populated.engine, q(populated, "UPDATE events SET body = ? WHERE seq = 7"), [bytes(changed)]
    )
    code, report = verify_cli(populated)
    assert code == 1
    assert first_bad(report) == (SITE, 7)


def test_a_deleted_row_is_found(populated: Container) -> None:
    """Deleting an event leaves a gap reported at the missing seq."""
    execute_raw(populated.engine, q(populated, "DELETE FROM events WHERE seq = 12"))
    code, report = verify_cli(populated)
    assert code == 1
    assert first_bad(report) == (SITE, 12)


def test_two_swapped_rows_are_found(populated: Container) -> None:
    """Exchanging the contents of two consecutive events breaks the link at the first."""
    rows = execute_raw(populated.engine,
        q(populated, "SELECT seq, recorded_at, type, body, prev_hash, hash FROM events "
                     "WHERE seq IN (15, 16) ORDER BY seq")
    )  # fmt: skip
    for (seq, *_), (_, *other) in zip(rows, reversed(rows), strict=True):
        execute_raw(populated.engine,
            q(populated, "UPDATE events SET recorded_at = ?, type = ?, body = ?, prev_hash = ?, "
                         "hash = ? WHERE seq = ?"),
            [*other, seq],
        )  # fmt: skip
    code, report = verify_cli(populated)
    assert code == 1
    assert first_bad(report) == (SITE, 15)


def test_a_truncated_tail_is_found_when_a_later_checkpoint_exists(populated: Container) -> None:
    """Cutting the newest events off is found through the checkpoint that covered them."""
    head = populated.store.head(SITE)[0]
    execute_raw(populated.engine, q(populated, "DELETE FROM events WHERE seq > ?"), [head - 6])
    code, report = verify_cli(populated)
    assert code == 1
    assert first_bad(report) == (SITE, head - 5)


def test_a_body_replaced_by_an_encrypted_blob_is_found(populated: Container) -> None:
    """Ransomware-style encryption of a body in place is reported at that seq."""
    execute_raw(
        populated.engine,
        q(populated, "UPDATE events SET body = ? WHERE seq = 3"),
        [os.urandom(160)],
    )
    code, report = verify_cli(populated)
    assert code == 1
    assert first_bad(report) == (SITE, 3)


def test_a_forged_checkpoint_signature_is_found(populated: Container) -> None:
    """A checkpoint whose signature does not verify is reported at its seq."""
    (seq,) = execute_raw(populated.engine, "SELECT min(seq) FROM checkpoints")[0]
    execute_raw(
        populated.engine,
        q(populated, "UPDATE checkpoints SET signature = ? WHERE seq = ?"),
        [os.urandom(64), seq],
    )
    code, report = verify_cli(populated)
    assert code == 1
    assert first_bad(report) == (SITE, seq)


@pytest.fixture(scope="module")
def populated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("tamper")
    node = make_node(home, f"sqlite:///{home / 'seed.db'}")
    populate(node)
    node.close()
    return home


COLUMNS = ["site", "seq", "recorded_at", "type", "body", "prev_hash", "hash"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_change_anywhere_is_detected(
    populated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Changing any one byte of any column of any stored event makes verification fail."""
    home = tmp_path_factory.mktemp("case")
    shutil.copytree(populated_sqlite, home, dirs_exist_ok=True)
    node = make_node(home, f"sqlite:///{home / 'seed.db'}")
    try:
        head = node.store.head(SITE)[0]
        seq = data.draw(st.integers(1, head), label="seq")
        column = data.draw(st.sampled_from(COLUMNS), label="column")
        (value,) = execute_raw(node.engine, f"SELECT {column} FROM events WHERE seq = ?", [seq])[0]
        if isinstance(value, bytes):
            pos = data.draw(st.integers(0, len(value) - 1), label="pos")
            flip = data.draw(st.integers(1, 255), label="xor")
            new: object = value[:pos] + bytes([value[pos] ^ flip]) + value[pos + 1 :]
        else:
            text = str(value)
            pos = data.draw(st.integers(0, len(text) - 1), label="pos")
            ch = data.draw(st.characters(min_codepoint=0x21, max_codepoint=0x7E).filter(
                lambda c: c != text[pos]), label="char")  # fmt: skip
            changed = text[:pos] + ch + text[pos + 1 :]
            new = int(changed) if column == "seq" and changed.isdigit() else changed
            if column == "seq" and not changed.isdigit():
                return  # a non-numeric seq cannot be stored in an integer column
        try:
            execute_raw(node.engine, f"UPDATE events SET {column} = ? WHERE seq = ?", [new, seq])
        except Exception:  # the change collides with the primary key: nothing was changed
            return
        reports = verify_store(node.store, node.trusted_keys())
        assert any(not r.ok for r in reports)
    finally:
        node.close()


def test_a_store_overwritten_with_random_bytes_is_an_integrity_failure(tmp_path: Path) -> None:
    """Ransomware-style overwriting of the database file exits 1 with advice, no traceback."""
    node = make_node(tmp_path, f"sqlite:///{tmp_path / 'postex.db'}")
    populate(node)
    node.close()
    for extra in tmp_path.glob("postex.db-*"):
        extra.unlink()
    (tmp_path / "postex.db").write_bytes(os.urandom(200_000))
    result = runner.invoke(
        app, ["verify", "--db", f"sqlite:///{tmp_path / 'postex.db'}", "--home", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "restore" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_column_of_the_wrong_type_is_a_fault_not_a_crash(tmp_path: Path, sqlite_url: str) -> None:
    """SQLite lets a tamperer store a BLOB in a text column: verify reports the seq, exit 1."""
    node = make_node(tmp_path, sqlite_url)
    try:
        populate(node)
        execute_raw(node.engine, "UPDATE events SET type = x'00ff' WHERE seq = 9")
        code, report = verify_cli(node)
        assert code == 1
        assert first_bad(report) == (SITE, 9)
    finally:
        node.close()
