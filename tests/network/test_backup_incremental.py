"""Incremental backups: `postex backup --to DIR --since LAST`, verified and restored as a chain."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

from typer.testing import CliRunner

from postex.cli.main import app
from tests.conftest import make_node
from tests.factories import new_customer, new_items

runner = CliRunner()


def _add_items(home: Path, n: int) -> int:
    """Pre-advise ``n`` items at the node in ``home``; return the head seq afterwards."""
    node = make_node(home, f"sqlite:///{home / 'postex.db'}", checkpoint_every=10)
    try:
        customer = new_customer(node)
        new_items(node, customer.record.id, n=n)
        return node.store.head("GBLALA")[0]
    finally:
        node.close()


def _backup(home: Path, to: Path, since: Path | None = None) -> str:
    args = ["backup", "--to", str(to), "--home", str(home)]
    result = runner.invoke(app, [*args, "--since", str(since)] if since else args)
    assert result.exit_code == 0, result.output
    return result.output


def _verify(home: Path, directory: Path) -> dict[str, object]:
    result = runner.invoke(app, ["backup", "verify", str(directory), "--home", str(home), "--json"])
    line = next((x for x in result.output.splitlines() if x[:1] == "{"), "{}")
    report: dict[str, object] = json.loads(line)
    report["exit"] = result.exit_code
    return report


def _chain(tmp_path: Path) -> tuple[Path, Path, Path, Path, int]:
    """A full backup, then two incrementals, with items written between them."""
    home = tmp_path / "home"
    _add_items(home, 12)
    full, inc1, inc2 = tmp_path / "full", tmp_path / "inc1", tmp_path / "inc2"
    _backup(home, full)
    _add_items(home, 7)
    _backup(home, inc1, since=full)
    head = _add_items(home, 5)
    _backup(home, inc2, since=inc1)
    return home, full, inc1, inc2, head


def test_incrementals_hold_only_new_events_and_verify_and_restore_as_a_chain(
    tmp_path: Path,
) -> None:
    home, full, inc1, inc2, head = _chain(tmp_path)
    base_head = json.loads((full / "manifest.json").read_text())["sites"]["GBLALA"]["head_seq"]
    inc1_site = json.loads((inc1 / "manifest.json").read_text())["sites"]["GBLALA"]
    assert inc1_site["from_seq"] == base_head + 1
    assert [s["first"] for s in inc1_site["segments"]] == [base_head + 1]
    inc2_site = json.loads((inc2 / "manifest.json").read_text())["sites"]["GBLALA"]
    assert inc2_site["from_seq"] == inc1_site["head_seq"] + 1 and inc2_site["head_seq"] == head
    first_seqs = [
        json.loads(line)[0]
        for seg in (inc2 / "GBLALA").glob("events-*.jsonl.gz")
        for line in gzip.decompress(seg.read_bytes()).decode().splitlines()[:1]
    ]
    assert first_seqs == [inc1_site["head_seq"] + 1]  # nothing older is written again

    report = _verify(home, inc2)
    assert report["exit"] == 0 and report["ok"] is True
    assert report["sites"] == [
        {"site": "GBLALA", "head_seq": head, "events_checked": head, "first_bad_seq": None,
         "reason": None}
    ]  # fmt: skip

    db = home / "postex.db"
    db.write_bytes(os.urandom(db.stat().st_size))
    result = runner.invoke(
        app, ["restore", "--site", "GBLALA", "--from", str(inc2), "--home", str(home), "--json"]
    )
    assert result.exit_code == 0, result.output
    restored = json.loads(next(x for x in result.output.splitlines() if x[:1] == "{"))
    assert restored["head_seq"] == head and restored["events"] == head
    assert runner.invoke(app, ["verify", "--home", str(home)]).exit_code == 0


def test_a_chain_with_a_changed_or_missing_base_is_refused(tmp_path: Path) -> None:
    home, full, inc1, inc2, _ = _chain(tmp_path)
    # An altered event in the full backup: the chain no longer verifies.
    segment = next((full / "GBLALA").glob("events-*.jsonl.gz"))
    original = segment.read_bytes()
    lines = gzip.decompress(original).decode().splitlines()
    lines[2] = lines[2].replace('"customer.', '"kustomer.', 1).replace('"item.', '"itam.', 1)
    segment.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    assert _verify(home, inc2)["exit"] == 1
    segment.write_bytes(original)
    assert _verify(home, inc2)["exit"] == 0
    # The middle incremental replaced by another backup of the same name: refused.
    shutil.rmtree(inc1)
    _backup(home, inc1, since=full)
    bad = runner.invoke(app, ["backup", "verify", str(inc2), "--home", str(home)])
    assert bad.exit_code == 1 and "different backup" in bad.output
    # The base gone altogether: a clear error naming it, exit 1.
    shutil.rmtree(inc1)
    gone = runner.invoke(app, ["backup", "verify", str(inc2), "--home", str(home)])
    assert gone.exit_code == 1 and "inc1" in gone.output


def test_since_a_backup_of_a_different_log_is_refused(tmp_path: Path) -> None:
    """An incremental needs the store's log to continue the base's head exactly."""
    home = tmp_path / "home"
    _add_items(home, 4)
    other_home = tmp_path / "other"
    _add_items(other_home, 9)
    theirs = tmp_path / "theirs"
    _backup(other_home, theirs)
    result = runner.invoke(
        app, ["backup", "--to", str(tmp_path / "inc"), "--since", str(theirs), "--home", str(home)]
    )
    assert result.exit_code == 1
    assert "base backup" in result.output
    assert not (tmp_path / "inc" / "manifest.json").exists()
    missing = runner.invoke(
        app,
        ["backup", "--to", str(tmp_path / "inc2"), "--since", str(tmp_path / "nope"),
         "--home", str(home)],
    )  # fmt: skip
    assert missing.exit_code == 2 and "since" in missing.output
