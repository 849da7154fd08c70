"""Done when: a sender's receipt, witnessed by the hub, still verifies offline with the
standalone verifier after the site was destroyed and restored, and the restored site's
tree provably extends the one the receipt was issued against."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from postex.bootstrap import Container, replication
from postex.cli.main import app
from postex.eventlog.merkle import verify_consistency
from postex.eventlog.notes import parse, signed_by
from postex.eventlog.sql.notes import SqlNotes
from postex.network.app.restore import restore_site
from postex.server import create_app
from tests.conftest import make_node
from tests.factories import SITE, make_caller, new_items, staff
from tests.network.conftest import trust

VERIFIER = Path(__file__).parents[2] / "tools" / "verify_receipt.py"
WITNESS = "postex.example/witness/HUB"


def run_verifier(receipt: Path, site: Container, hub: Container) -> tuple[int, dict[str, Any]]:
    keys = [base64.b64encode(n.signer.public).decode() for n in (site, hub)]
    done = subprocess.run(
        [sys.executable, str(VERIFIER), str(receipt), "--site-key", keys[0],
         "--witness-key", keys[1], "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout)


def witness_at_hub(site: Container, hub: Container) -> None:
    """The hub receives the site's log and checkpoints (as replication delivers them) and
    cosigns; the site keeps the cosignatures for its receipts."""
    h = replication(hub).hub(hub.trusted_keys())
    h.receive_events(SITE, list(site.store.read_events(SITE)))
    for cp in site.store.checkpoints(SITE):
        h.receive_checkpoint(cp)
    hub_notes, site_notes = SqlNotes(hub.engine), SqlNotes(site.engine)
    for cp in site.store.checkpoints(SITE):
        for line in hub_notes.cosignatures(SITE, cp.seq):
            root = hub_notes.last_cosigned(SITE, WITNESS)
            assert root is not None
            site_notes.save_cosignature(SITE, cp.seq, WITNESS, root[1], line, cp.signed_at)


def test_a_witnessed_receipt_verifies_offline_before_and_after_the_site_is_restored(
    tmp_path: Path,
) -> None:
    site = make_node(tmp_path / "site", f"sqlite:///{tmp_path / 'site.db'}", site=SITE)
    hub = make_node(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub.db'}", site="HUB", role="hub")
    try:
        trust(hub, site, SITE)
        owner = make_caller(site, "Owner Ltd")
        item = new_items(site, owner.id)[0]
        with TestClient(create_app(site)) as client:
            clerk = staff(site, "clerk")
            scans = [{"item_id": item.id, "weight_g": 850}]
            accepted = client.post(f"/api/v1/sites/{SITE}/acceptances", json={"scans": scans},
                                   headers=clerk.headers)  # fmt: skip
            assert accepted.status_code == 201, accepted.text
            site.admin.checkpoint_now(SITE)
            witness_at_hub(site, hub)
            got = client.get(f"/api/v1/items/{item.id}/receipt", headers=owner.headers)
            assert got.status_code == 200, got.text
        receipt = got.json()
        path = tmp_path / "receipt.json"
        path.write_text(json.dumps(receipt))
        assert receipt["checkpoint"].count("\u2014 ") == 2  # the site's and the witness's

        code, report = run_verifier(path, site, hub)
        assert code == 0, report
        assert report["facts"]["acceptance"]["weight_g"] == 850
        assert report["facts"]["pre-advice"]["destination"] == item.destination

        cli = CliRunner().invoke(app, ["receipt", "verify", str(path), "--json", "--site-key",
                                       base64.b64encode(site.signer.public).decode()])  # fmt: skip
        assert cli.exit_code == 0 and json.loads(cli.stdout)["ok"] is True

        # The site is destroyed and restored from its backup.
        rep = replication(site)
        rep.backup_writer().write(tmp_path / "bk")
        site.admin.wipe()
        restore_site(site.store, site.admin, rep.state, SITE, rep.backup_reader(tmp_path / "bk"),
                     site.trusted_keys(), rep.now)  # fmt: skip
        code, report = run_verifier(path, site, hub)
        assert code == 0, report
        site.admin.checkpoint_now(SITE)
        with TestClient(create_app(site)) as client:
            head = client.get(f"/api/v1/log/{SITE}/checkpoint").json()
            size = receipt["tree_size"]
            con = client.get(f"/api/v1/log/{SITE}/proofs/consistency",
                             params={"from": size, "to": head["tree_size"]}).json()  # fmt: skip
        assert signed_by(head["note"], f"postex.example/{SITE}", site.signer.public)
        old_root = parse(receipt["checkpoint"])[0].root
        proof = [bytes.fromhex(p) for p in con["proof"]]
        assert verify_consistency(
            size, head["tree_size"], proof, old_root, bytes.fromhex(head["root"])
        )

        receipt["events"][1]["body"] = receipt["events"][1]["body"].replace("850", "851")
        path.write_text(json.dumps(receipt))
        code, report = run_verifier(path, site, hub)
        assert code == 1 and any("hash does not match" in p for p in report["problems"])
    finally:
        site.close()
        hub.close()
