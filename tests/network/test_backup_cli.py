"""`postex backup`, `postex backup verify` and `postex restore --from DIR` from the command line."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from typer.testing import CliRunner

from postex.cli.main import app
from tests.conftest import make_node
from tests.factories import new_customer, new_items

runner = CliRunner()


def _backed_up(tmp_path: Path) -> tuple[Path, Path, str]:
    home = tmp_path / "home"
    node = make_node(home, f"sqlite:///{home / 'postex.db'}", checkpoint_every=10)
    customer = new_customer(node)
    for _ in range(3):
        new_items(node, customer.record.id, n=5)
    node.close()
    out = tmp_path / "backup"
    result = runner.invoke(app, ["backup", "--to", str(out), "--home", str(home)])
    assert result.exit_code == 0, result.output
    return home, out, customer.record.id


def test_backup_verifies_and_restores_a_destroyed_store(tmp_path: Path) -> None:
    """A fresh backup verifies; after the store is overwritten, restore brings it back whole."""
    home, out, _ = _backed_up(tmp_path)
    assert runner.invoke(app, ["backup", "verify", str(out), "--home", str(home)]).exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    head = manifest["sites"]["GBLALA"]["head_seq"]
    assert "kek" not in json.dumps(manifest).lower()  # the KEK is never in a backup
    db = home / "postex.db"
    db.write_bytes(os.urandom(db.stat().st_size))
    result = runner.invoke(
        app, ["restore", "--site", "GBLALA", "--from", str(out), "--home", str(home), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(next(line for line in result.output.splitlines() if line[:1] == "{"))
    assert report["head_seq"] == head
    assert runner.invoke(app, ["verify", "--home", str(home)]).exit_code == 0


def test_altered_segment_fails_verification_and_restore(tmp_path: Path) -> None:
    """A segment changed after the backup was written is reported and never restored."""
    home, out, _ = _backed_up(tmp_path)
    segment = next((out / "GBLALA").glob("events-*.jsonl.gz"))
    lines = gzip.decompress(segment.read_bytes()).decode().splitlines()
    lines[3] = lines[3].replace('"item.', '"itam.', 1)
    segment.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    result = runner.invoke(app, ["backup", "verify", str(out), "--home", str(home)])
    assert result.exit_code == 1
    restored = runner.invoke(
        app, ["restore", "--site", "GBLALA", "--from", str(out), "--home", str(home), "--force"]
    )
    assert restored.exit_code == 1


def test_manifest_signed_by_an_unknown_key_is_refused(tmp_path: Path) -> None:
    """A backup whose manifest was re-written (signature no longer matches) is refused."""
    home, out, _ = _backed_up(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["sites"]["GBLALA"]["head_seq"] += 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["backup", "verify", str(out), "--home", str(home)])
    assert result.exit_code == 1
    assert "signature" in result.output


def test_restoring_an_old_backup_does_not_bring_back_an_erased_customers_key(
    tmp_path: Path,
) -> None:
    """A backup taken before an erasure holds the key; the restored log's erasure still wins."""
    from postex.accounts.app.customers import erase_customer
    from postex.bootstrap import replication
    from postex.network.app.restore import restore_site

    home = tmp_path / "home"
    node = make_node(home, f"sqlite:///{home / 'postex.db'}")
    customer = new_customer(node)
    out = tmp_path / "backup"
    replication(node).backup_writer().write(out)
    erase_customer(node.ctx, customer.record.id)
    later = tmp_path / "later"
    replication(node).backup_writer().write(later)
    node.close()
    target = make_node(home, f"sqlite:///{tmp_path / 'restored.db'}")
    old_keys = replication(target).backup_reader(out).data_keys("GBLALA")
    reader = replication(target).backup_reader(later)
    reader.data_keys = lambda site: old_keys  # type: ignore[method-assign]
    assert old_keys  # the old copy does hold the key
    rep = replication(target)
    restore_site(
        target.store, target.admin, rep.state, "GBLALA", reader, target.trusted_keys(), rep.now
    )
    assert target.admin.export_data_keys() == []
