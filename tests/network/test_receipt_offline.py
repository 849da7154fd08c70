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

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from postex.bootstrap import Container, replication
from postex.cli.main import app
from postex.eventlog.merkle import verify_consistency
from postex.eventlog.notes import parse, signed_by
from postex.eventlog.sql.notes import SqlNotes
from postex.network.app.restore import restore_site
from postex.server import create_app
from tests.factories import SITE, make_caller, new_items, staff
from tests.network.conftest import Loops, pair, wait_until

pytestmark = pytest.mark.nats

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


def _receipt(site: Container, item_id: str, owner: dict[str, str]) -> dict[str, Any]:
    with TestClient(create_app(site)) as client:
        got = client.get(f"/api/v1/items/{item_id}/receipt", headers=owner)
    assert got.status_code == 200, got.text
    out: dict[str, Any] = got.json()
    return out


def test_a_witnessed_receipt_verifies_offline_before_and_after_the_site_is_restored(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """Over real NATS: the hub cosigns, the site's publisher fetches the cosignature back
    (nothing copied by hand); after the site is destroyed and restored from the hub, its
    tree head of that size is the same note and the cosignature comes back again."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    try:
        owner = make_caller(site, "Owner Ltd")
        item = new_items(site, owner.id)[0]
        with TestClient(create_app(site)) as client:
            clerk = staff(site, "clerk")
            scans = [{"item_id": item.id, "weight_g": 850}]
            accepted = client.post(f"/api/v1/sites/{SITE}/acceptances", json={"scans": scans},
                                   headers=clerk.headers)  # fmt: skip
            assert accepted.status_code == 201, accepted.text
        site.admin.checkpoint_now(SITE)
        size = site.store.head(SITE)[0]
        notes = SqlNotes(site.engine)
        loops.start(replication(hub).consumer(hub.trusted_keys()).run)
        publishing = loops.start(replication(site).publisher().run)
        wait_until(lambda: notes.cosignatures(SITE, size) != [], what="the hub's cosignature")
        receipt = _receipt(site, item.id, owner.headers)
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

        # The site is destroyed and restored from the hub's copy (over NATS).
        loops.stop_one(publishing)
        site.admin.wipe()
        assert notes.cosignatures(SITE, size) == [] and notes.note_at(SITE, size) is None
        rep = replication(site)
        source = rep.nats_source(attempts=3)
        try:
            restore_site(site.store, site.admin, rep.state, SITE, source, site.trusted_keys(),
                         rep.now)  # fmt: skip
        finally:
            source.close()
        code, report = run_verifier(path, site, hub)
        assert code == 0, report
        loops.start(replication(site).publisher().run)
        wait_until(lambda: notes.cosignatures(SITE, size) != [], what="the cosignature again")
        again = _receipt(site, item.id, owner.headers)
        assert again["checkpoint"] == receipt["checkpoint"]  # the same note, witnessed again

        site.admin.checkpoint_now(SITE)
        with TestClient(create_app(site)) as client:
            head = client.get(f"/api/v1/log/{SITE}/checkpoint").json()
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
        loops.close()
    finally:
        site.close()
        hub.close()
