"""A rollback inside the last checkpoint window is found without the hub (issue #15).

The local anchor (``anchor-<SITE>.json``, outside the database) follows the head after
every write that appended, so an older copy of the database put back, or a tail cut with
the head row rolled back to an older, validly MAC'd copy, no longer goes unnoticed until
the next checkpoint: `postex verify` exits 1 naming the anchor, the next write is refused,
and a normal restart is fine.
"""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.errors import IntegrityError
from postex.network.log_keys import anchor_path
from tests.conftest import make_node
from tests.eventlog.test_authenticated_log import SITE, bad_site, q, set_heads, verify_cli
from tests.factories import new_customer, new_items


def sqlite_path(node: Container) -> Path:
    return Path(node.settings.db_url.removeprefix("sqlite:///"))


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@pytest.mark.sqlite_only
def test_an_older_copy_of_the_database_put_back_is_found(node: Container, tmp_path: Path) -> None:
    """Append, copy the database, append more (no checkpoint in between), put the old copy
    back: verify exits 1 naming the anchor, and the node refuses to write on top of it."""
    node.store.checkpoint_every = 10**6  # type: ignore[attr-defined]  # no checkpoint after
    customer = new_customer(node)
    new_items(node, customer.record.id, 3)
    old_seq = node.store.head(SITE)[0]
    saved = tmp_path / "old.db"
    copy_sqlite(sqlite_path(node), saved)
    new_items(node, customer.record.id, 4)
    anchor = node.authority.anchor(SITE)
    assert anchor is not None and anchor.seq == node.store.head(SITE)[0] > old_seq
    assert all(cp.seq < old_seq for cp in node.store.checkpoints(SITE))  # no checkpoint since

    copy_sqlite(saved, sqlite_path(node))  # the old copy put back

    code, report = verify_cli(node)
    assert code == 1
    bad = bad_site(report)
    assert bad["first_bad_seq"] == old_seq + 1
    assert f"local anchor holds {anchor.seq}" in bad["reason"]
    assert f"anchor-{SITE}.json" in bad["reason"]
    with pytest.raises(IntegrityError, match=f"local anchor holds {anchor.seq}"):
        new_customer(node)
    assert node.store.head(SITE)[0] == old_seq  # nothing written over the evidence
    assert node.authority.anchor(SITE) == anchor  # the anchor did not move


def test_a_tail_cut_inside_the_checkpoint_window_is_found(node: Container) -> None:
    """The last events cut and the head row put back to its older, validly MAC'd value,
    no checkpoint signed since: the anchor alone finds it, on both stores."""
    node.store.checkpoint_every = 10**6  # type: ignore[attr-defined]
    customer = new_customer(node)
    new_items(node, customer.record.id, 2)
    old_row = execute_raw(node.engine, q(node, "SELECT seq, hash, mac FROM log_heads"))[0]
    old_seq = int(old_row[0])
    new_items(node, customer.record.id, 3)
    execute_raw(node.engine, q(node, "DELETE FROM events WHERE seq > ?"), [old_seq])
    execute_raw(
        node.engine, q(node, "UPDATE log_heads SET seq = ?, hash = ?, mac = ?"), list(old_row)
    )
    set_heads(node, old_seq, bytes(old_row[1]), "2026-01-01T00:00:00.000000Z")
    code, report = verify_cli(node)
    assert code == 1
    bad = bad_site(report)
    assert bad["first_bad_seq"] == old_seq + 1 and "local anchor holds" in bad["reason"]
    with pytest.raises(IntegrityError, match="local anchor holds"):
        new_items(node, customer.record.id, 1)


def test_a_normal_restart_is_fine_and_the_anchor_follows_every_write(
    node: Container, tmp_path: Path
) -> None:
    customer = new_customer(node)
    for n in (1, 2):
        new_items(node, customer.record.id, n)
        anchor = node.authority.anchor(SITE)
        assert anchor is not None and (anchor.seq, anchor.hash) == node.store.head(SITE)
    path = anchor_path(node.settings.keys_dir, SITE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    node.close()
    again = make_node(node.settings.home, node.settings.db_url)
    try:
        code, report = verify_cli(again)
        assert code == 0, report
        new_items(again, customer.record.id, 1)  # writes on
        anchor = again.authority.anchor(SITE)
        assert anchor is not None and anchor.seq == again.store.head(SITE)[0]
    finally:
        again.close()


def test_the_anchor_file_survives_a_torn_slot_and_reads_the_old_form(tmp_path: Path) -> None:
    """Two 512-byte slots written in turn: a slot torn by a crash mid-write leaves the other
    (one write behind); a version-1 file (one JSON object) is read, then rewritten."""
    import json

    from postex.eventlog.authlog import ANCHOR_DOMAIN
    from postex.network.log_keys import FileLogAuthority

    keys = tmp_path / "keys"
    authority = FileLogAuthority(keys, lambda site: site == SITE)
    key = authority.key(SITE)
    assert key is not None
    path = anchor_path(keys, SITE)
    path.parent.mkdir(exist_ok=True)
    old = {"v": 1, "site": SITE, "seq": 3, "hash": "ab" * 32,
           "mac": key.mac(3, bytes.fromhex("ab" * 32), ANCHOR_DOMAIN).hex()}  # fmt: skip
    path.write_text(json.dumps(old, indent=2))
    path.chmod(0o600)
    first = authority.anchor(SITE)
    assert first is not None and first.seq == 3
    for seq in (4, 5, 6):
        authority.save_anchor(SITE, seq, bytes([seq]) * 32, durable=False)
    raw = bytearray(path.read_bytes())
    assert len(raw) == 1024 and raw[511:512] == raw[1023:1024] == b"\n"
    newer = 0 if b'"seq":6' in raw[:512] else 1
    raw[newer * 512 + 5 : newer * 512 + 25] = b"\x00" * 20  # torn mid-write
    path.write_bytes(bytes(raw))
    fresh = FileLogAuthority(keys, lambda site: site == SITE)
    anchor = fresh.anchor(SITE)
    assert anchor is not None and (anchor.seq, anchor.hash) == (5, bytes([5]) * 32)
    fresh.save_anchor(SITE, 7, bytes([7]) * 32, durable=False)  # the torn slot is rewritten
    again = FileLogAuthority(keys, lambda site: site == SITE).anchor(SITE)
    assert again is not None and again.seq == 7
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
