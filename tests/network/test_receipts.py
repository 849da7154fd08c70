"""A sender's receipt of pre-advice and acceptance, and the public transparency-log routes."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pymupdf
import pytest
import zxingcpp
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.merkle import verify_consistency, verify_inclusion
from postex.network.app.receipts import check
from tests.factories import SITE, Caller, make_caller, new_items, staff

API = f"/api/v1/sites/{SITE}"


def accepted_item(node: Container, client: TestClient, owner: Caller) -> str:
    """An item pre-advised by ``owner`` and accepted at the counter."""
    item = new_items(node, owner.id)[0]
    clerk = staff(node, "clerk")
    scans = [{"item_id": item.id, "weight_g": 850}]
    got = client.post(f"{API}/acceptances", json={"scans": scans}, headers=clerk.headers)
    assert got.status_code == 201, got.text
    return item.id


def receipt(client: TestClient, owner: Caller, item_id: str) -> dict[str, Any]:
    got = client.get(f"/api/v1/items/{item_id}/receipt", headers=owner.headers)
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def test_a_receipt_proves_pre_advice_and_acceptance_and_any_change_fails(
    node: Container, client: TestClient
) -> None:
    """The receipt verifies under the site's key: both events, their weights and times,
    sealed personal data still sealed. A changed weight, a changed proof byte, another
    site's key or a changed checkpoint root each fail verification."""
    owner = make_caller(node, "Owner Ltd")
    item_id = accepted_item(node, client, owner)
    r = receipt(client, owner, item_id)
    assert [e["label"] for e in r["events"]] == ["pre-advice", "acceptance"]
    assert "Owner Ltd" not in json.dumps(r)  # the customer's name is nowhere in it
    pre = json.loads(r["events"][0]["body"])
    assert pre["sealed"].startswith("v1.")  # personal data stays sealed
    verdict = check(r, node.signer.public)
    assert verdict.ok, verdict.problems
    assert verdict.facts["acceptance"]["weight_g"] == 850
    assert verdict.facts["pre-advice"]["item_id"] == item_id

    bad = copy.deepcopy(r)
    bad["events"][1]["body"] = bad["events"][1]["body"].replace('"weight_g":850', '"weight_g":851')
    assert not check(bad, node.signer.public).ok
    bad = copy.deepcopy(r)
    proof = bad["events"][0]["proof"]
    if proof:
        proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]
        assert not check(bad, node.signer.public).ok
    assert not check(r, bytes(32)).ok
    bad = copy.deepcopy(r)
    lines = bad["checkpoint"].split("\n")
    lines[2] = "A" + lines[2][1:] if lines[2][0] != "A" else "B" + lines[2][1:]
    bad["checkpoint"] = "\n".join(lines)
    assert not check(bad, node.signer.public).ok


def test_another_customers_receipt_is_not_found(node: Container, client: TestClient) -> None:
    """Another customer asking for the receipt gets 404, as for an id that does not exist."""
    owner, other = make_caller(node, "Owner Ltd"), make_caller(node, "Other Ltd")
    item_id = accepted_item(node, client, owner)
    got = client.get(f"/api/v1/items/{item_id}/receipt", headers=other.headers)
    assert got.status_code == 404


def test_public_log_routes_give_checkpoint_and_proofs_that_verify(
    node: Container, client: TestClient
) -> None:
    """Anyone (no key) gets the signed tree head, an inclusion proof and a consistency
    proof that verify against it; bad sizes and unknown parameters are problem+json."""
    owner = make_caller(node, "Owner Ltd")
    accepted_item(node, client, owner)
    node.admin.checkpoint_now(SITE)
    cp = client.get(f"/api/v1/log/{SITE}/checkpoint")
    assert cp.status_code == 200, cp.text
    head = cp.json()
    size, root = head["tree_size"], bytes.fromhex(head["root"])
    assert head["note"].startswith(f"postex.example/{SITE}\n{size}\n")
    inc = client.get(f"/api/v1/log/{SITE}/proofs/inclusion", params={"seq": 1, "tree_size": size})
    assert inc.status_code == 200, inc.text
    body = inc.json()
    proof = [bytes.fromhex(p) for p in body["proof"]]
    assert verify_inclusion(bytes.fromhex(body["leaf_hash"]), 0, size, proof, root)
    con = client.get(f"/api/v1/log/{SITE}/proofs/consistency", params={"from": 1, "to": size})
    assert con.status_code == 200, con.text
    c = con.json()
    proof = [bytes.fromhex(p) for p in c["proof"]]
    assert verify_consistency(1, size, proof, bytes.fromhex(c["old_root"]), root)

    beyond = client.get(
        f"/api/v1/log/{SITE}/proofs/inclusion", params={"seq": 1, "tree_size": size + 1}
    )
    assert beyond.status_code == 422
    assert beyond.headers["content-type"].startswith("application/problem+json")
    assert beyond.json()["field"] == "tree_size"
    unknown = client.get(f"/api/v1/log/{SITE}/checkpoint", params={"verbose": 1})
    assert unknown.status_code == 422
    assert client.get("/api/v1/log/ZZNONE/checkpoint").status_code == 404


@pytest.mark.sqlite_only
def test_the_certificate_of_posting_carries_the_receipt_digest_as_a_qr_code(
    node: Container, client: TestClient
) -> None:
    """A real QR reader finds the receipt's digest on the certificate, whose text names the
    item, the site, the accepted weight and the tree size the receipt was issued against."""
    owner = make_caller(node, "Owner Ltd")
    item_id = accepted_item(node, client, owner)
    r = receipt(client, owner, item_id)
    got = client.get(f"/api/v1/items/{item_id}/certificate.pdf", headers=owner.headers)
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    page = pymupdf.open(stream=got.content, filetype="pdf")[0]
    pix = page.get_pixmap(dpi=200)
    image = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    codes = [b.text for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
    assert codes == [r["digest"]]
    text = " ".join(str(page.get_text()).split())
    assert "Certificate of posting" in text and "0.850 kg" in text and SITE in text
    assert f"{r['tree_size']:,} entries" in text


def test_a_cancelled_item_has_no_certificate_of_posting(
    node: Container, client: TestClient
) -> None:
    """A certificate of a cancelled item is refused: 409, rule cancelled."""
    owner = make_caller(node, "Owner Ltd")
    item = new_items(node, owner.id)[0]
    assert client.delete(f"/api/v1/items/{item.id}", headers=owner.headers).status_code == 200
    got = client.get(f"/api/v1/items/{item.id}/certificate.pdf", headers=owner.headers)
    assert got.status_code == 409 and got.json()["rule"] == "cancelled"


@pytest.mark.sqlite_only
@pytest.mark.node(public_rate=1, public_burst=4)
def test_public_log_routes_are_rate_limited_per_client(client: TestClient) -> None:
    """The public log routes share the public tracking limiter: beyond the burst, 429."""
    paths = [
        f"/api/v1/log/{SITE}/checkpoint",
        f"/api/v1/log/{SITE}/cosignatures?tree_size=1",
        f"/api/v1/log/{SITE}/proofs/inclusion?seq=1&tree_size=1",
        f"/api/v1/log/{SITE}/proofs/consistency?from=1&to=1",
    ]
    codes = [client.get(path).status_code for path in paths]
    assert 429 not in codes
    limited = client.get(paths[0])
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
