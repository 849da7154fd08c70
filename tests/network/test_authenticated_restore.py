"""Backups and restores with the authenticated log (issue #15): the restored log gets a
fresh authenticated head under the site's log key, the local anchor follows it, a copy
that disagrees with the anchor is refused, and checkpoints count only under the site's key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex.bootstrap import Container, replication
from postex.cli.main import app
from postex.eventlog.checkpoints import make_checkpoint
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.errors import IntegrityError
from postex.network.app.backup import verify_backup
from postex.network.app.integrity import verify_store
from postex.network.app.restore import restore_site
from postex.network.signing import load_or_create_signer
from tests.factories import new_customer, new_items

SITE = "GBLALA"
runner = CliRunner()


def _populated(node: Container) -> None:
    node.store.checkpoint_every = 10  # type: ignore[attr-defined]
    customer = new_customer(node)
    for _ in range(3):
        new_items(node, customer.record.id, 6)
    node.admin.checkpoint_now(SITE)


def _restore(node: Container, directory: Path) -> None:
    rep = replication(node)
    reader = rep.backup_reader(directory)
    restore_site(node.store, node.admin, rep.state, SITE, reader, node.trusted_keys(), rep.now)


def test_a_restored_log_verifies_authenticated_and_writes_on(
    node: Container, tmp_path: Path
) -> None:
    """Backup, wipe, restore on the same home (the anchor is there): verified by the
    checkpoints, then authenticated afresh; the site writes on and verifies again."""
    _populated(node)
    head = node.store.head(SITE)[0]
    replication(node).backup_writer().write(tmp_path / "bk")
    node.admin.wipe()
    _restore(node, tmp_path / "bk")
    report = verify_store(node.store, node.trusted_keys(), SITE, authority=node.authority)[0]
    assert report.ok and report.authenticated, report.faults
    assert node.store.head(SITE)[0] == head + 1  # the audited restore
    anchor = node.authority.anchor(SITE)
    assert anchor is not None and anchor.seq == head + 1
    new_customer(node)  # writing resumes on the authenticated head
    assert verify_store(node.store, node.trusted_keys(), SITE, authority=node.authority)[0].ok


def test_a_restore_that_disagrees_with_the_local_anchor_is_refused(
    node: Container, tmp_path: Path
) -> None:
    """A copy whose history differs where this node's anchor vouches for it is not restored."""
    _populated(node)
    replication(node).backup_writer().write(tmp_path / "bk")
    anchor = node.authority.anchor(SITE)
    assert anchor is not None
    node.authority.save_anchor(SITE, anchor.seq, bytes(32), force=True)  # another history
    node.admin.wipe()
    with pytest.raises(IntegrityError, match="local anchor") as refused:
        _restore(node, tmp_path / "bk")
    assert refused.value.seq == anchor.seq
    assert node.store.head(SITE)[0] == 0  # wiped again: nothing kept


def test_a_backup_checkpoint_signed_by_another_sites_key_is_refused(
    node: Container, tmp_path: Path
) -> None:
    """(d) for backups and restores: a checkpoint of GBLALA under another trusted site's key."""
    _populated(node)
    other = load_or_create_signer(node.settings.keys_dir, "FRCDGA")
    seq, digest = node.store.head(SITE)
    node.admin.save_checkpoint(make_checkpoint(other, SITE, seq - 1, _hash(node, seq - 1), "x"))
    replication(node).backup_writer().write(tmp_path / "bk")
    reader = replication(node).backup_reader(tmp_path / "bk")
    reports = verify_backup(reader, node.trusted_keys())
    assert not reports[0].ok
    assert reports[0].first_fault is not None
    assert reports[0].first_fault.reason == "checkpoint is signed by a key not trusted for GBLALA"
    node.admin.wipe()
    with pytest.raises(IntegrityError, match="not signed by a key trusted for GBLALA"):
        _restore(node, tmp_path / "bk")
    assert digest


def _hash(node: Container, seq: int) -> bytes:
    ph = "%s" if node.engine.dialect.name == "postgresql" else "?"
    return bytes(execute_raw(node.engine, f"SELECT hash FROM events WHERE seq = {ph}", [seq])[0][0])


def test_restore_names_a_missing_log_key(tmp_path: Path) -> None:
    """The log key is one of the keys a restore needs from the site's key backup."""
    backup = tmp_path / "backup"
    backup.mkdir()
    home = tmp_path / "new-machine"
    result = runner.invoke(
        app, ["restore", "--site", SITE, "--from", str(backup), "--home", str(home)]
    )
    assert result.exit_code == 2, result.output
    assert "log-GBLALA.json" in result.stderr


def test_a_tampered_log_is_never_backed_up(node: Container, tmp_path: Path) -> None:
    """A forged event past the authenticated head (valid hashes) would be signed into the
    backup's manifest and authenticated afresh by a restore: the backup refuses instead."""
    from postex.eventlog.chain import event_hash

    _populated(node)
    seq, prev = node.store.head(SITE)
    at = "2099-01-01T00:00:00.000000Z"
    digest = event_hash(prev, SITE, seq + 1, at, "test.thing.v1", b'{"n":1}')
    ph = "%s" if node.engine.dialect.name == "postgresql" else "?"
    execute_raw(
        node.engine,
        "INSERT INTO events (site, seq, recorded_at, type, body, prev_hash, hash) "
        f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph})",
        [SITE, seq + 1, at, "test.thing.v1", b'{"n":1}', prev, digest],
    )
    execute_raw(node.engine, f"UPDATE heads SET seq = {ph}, hash = {ph}", [seq + 1, digest])
    with pytest.raises(IntegrityError, match="backup refused: events") as refused:
        replication(node).backup_writer().write(tmp_path / "bk")
    assert refused.value.seq == seq + 1
    assert not (tmp_path / "bk" / "manifest.json").exists()


def test_an_incremental_backup_of_an_authenticated_log_is_written(
    node: Container, tmp_path: Path
) -> None:
    _populated(node)
    replication(node).backup_writer().write(tmp_path / "full")
    new_items(node, new_customer(node).record.id, 4)
    heads = replication(node).backup_writer().write(tmp_path / "inc", since=tmp_path / "full")
    assert heads[SITE] == node.store.head(SITE)[0]
    reader = replication(node).backup_reader(tmp_path / "inc")
    assert all(r.ok for r in verify_backup(reader, node.trusted_keys()))
