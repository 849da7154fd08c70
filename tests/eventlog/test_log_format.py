"""The hash chain and canonical encoding match docs/log-format.md and RFC 8785."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given, settings

from postex.eventlog.canonical import canonical
from postex.eventlog.chain import ZERO_HASH, event_hash
from postex.kernel.errors import ValidationError
from tests.strategies import event_bodies, json_values

DOC = (Path(__file__).parents[2] / "docs" / "log-format.md").read_text()


def _doc_hash(vector: int) -> str:
    section = DOC.split(f"### Test vector {vector}")[1]
    match = re.search(r"\| hash \| `([0-9a-f]{64})` \|", section)
    assert match
    return match.group(1)


def test_vector_1_in_the_docs_is_recomputed() -> None:
    """The first event's hash equals the value written in docs/log-format.md."""
    body = canonical(
        {"item_id": "LA100000003GB", "weight_g": 850, "destination": "US", "has_goods": True,
         "note": 'Zürich "quoted"\n'}
    )  # fmt: skip
    assert len(body) == 108
    got = event_hash(
        ZERO_HASH, "GBLALA", 1, "2026-01-11T09:30:00.000000Z", "item.pre_advised.v1", body
    )
    assert got.hex() == _doc_hash(1)


def test_vector_2_links_to_vector_1() -> None:
    """The second event's hash covers the first's and equals the documented value."""
    prev = bytes.fromhex(_doc_hash(1))
    body = canonical({"item_id": "LA100000003GB", "customer_id": "cus_0123456789abcdef0123"})
    got = event_hash(prev, "GBLALA", 2, "2026-01-11T09:30:01.500000Z", "item.cancelled.v1", body)
    assert got.hex() == _doc_hash(2)


@settings(max_examples=400)
@given(event_bodies)
def test_fast_encoder_is_byte_identical_to_rfc8785(body: dict[str, object]) -> None:
    """For Postex's event shapes the fast encoder writes exactly what RFC 8785 prescribes."""
    assert canonical(body) == rfc8785.dumps(body)


@given(json_values)
def test_canonical_bytes_round_trip(value: object) -> None:
    """Decoding canonical bytes gives back the value, and re-encoding gives the same bytes."""
    data = canonical({"v": value})
    assert canonical(json.loads(data)) == data


def test_floats_and_huge_integers_are_refused() -> None:
    """No floats and no integers beyond 2**53 reach the log."""
    for bad in ({"w": 1.5}, {"n": 2**53}, {"k": {1: 2}}, {"ü": 1}):
        with pytest.raises(ValidationError):
            canonical(bad)


def test_vector_3_the_authenticated_head_is_recomputed() -> None:
    """The head MAC and anchor MAC of docs/log-format.md, under the key 00 01 … 1f."""
    from postex.eventlog.authlog import ANCHOR_DOMAIN, LogKey

    section = DOC.split("### Test vector 3")[1]
    head_mac = re.search(r"\| head mac \| `([0-9a-f]{64})` \|", section)
    anchor_mac = re.search(r"\| anchor mac \| `([0-9a-f]{64})`", section)
    assert head_mac and anchor_mac
    key = LogKey("GBLALA", bytes(range(32)))
    digest = bytes.fromhex(_doc_hash(2))
    assert key.mac(2, digest).hex() == head_mac.group(1)
    assert key.mac(2, digest, ANCHOR_DOMAIN).hex() == anchor_mac.group(1)
    assert key.valid(2, digest, bytes.fromhex(head_mac.group(1)))
    assert not key.valid(3, digest, bytes.fromhex(head_mac.group(1)))


def test_vector_4_the_tree_of_the_two_events_is_recomputed() -> None:
    """Leaf hashes and the root of size 2 in docs/log-format.md come out of the tree code."""
    from postex.eventlog.merkle import MemoryTree, leaf_hash

    section = DOC.split("### Test vector 4")[1].split("##")[0]
    values = re.findall(r"`([0-9a-f]{64})`", section)
    h1, h2 = bytes.fromhex(_doc_hash(1)), bytes.fromhex(_doc_hash(2))
    tree = MemoryTree([h1, h2])
    assert values == [leaf_hash(h1).hex(), leaf_hash(h2).hex(), tree.root(2).hex()]
    assert tree.inclusion(0) == [leaf_hash(h2)]


def test_vector_5_the_signed_witnessed_note_is_recomputed() -> None:
    """The note of docs/log-format.md, signed by the keys with seeds 00…1f and 20…3f at
    time 1768123860, is byte for byte the one written there."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from postex.eventlog.merkle import MemoryTree
    from postex.eventlog.notes import TreeHead, cosign_line, note, sign_line
    from postex.network.signing import FileSigner

    section = DOC.split("### Test vector 5")[1]
    written = section.split("```\n")[1]
    site = FileSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    hub = FileSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64))))
    root = MemoryTree([bytes.fromhex(_doc_hash(1)), bytes.fromhex(_doc_hash(2))]).root()
    head = TreeHead("postex.example/GBLALA", 2, root)
    made = note(
        head,
        sign_line(head, head.origin, site),
        cosign_line(head, "postex.example/witness/HUB", hub, 1768123860),
    )
    assert made == written


def test_vector_6_the_example_receipt_verifies_with_the_standalone_verifier() -> None:
    """tools/receipt-vector.json verifies (exit 0) with the documented keys and digest, and
    a changed weight fails (exit 1), run as a separate process."""
    import subprocess
    import sys
    import tempfile

    root = Path(__file__).parents[2]
    section = DOC.split("**Test vector 6**")[1]
    site_key, witness_key = re.findall(r"--(?:site|witness)-key\s+(\S+=)", section)
    digest = re.search(r"digest\s+`([0-9a-f]{64})`", section)
    receipt = json.loads((root / "tools" / "receipt-vector.json").read_text(encoding="utf-8"))
    assert digest and receipt["digest"] == digest.group(1)

    def run(path: Path) -> int:
        args = [sys.executable, str(root / "tools" / "verify_receipt.py"), str(path),
                "--site-key", site_key, "--witness-key", witness_key]  # fmt: skip
        return subprocess.run(args, capture_output=True, timeout=60, check=False).returncode

    assert run(root / "tools" / "receipt-vector.json") == 0
    receipt["events"][0]["body"] = receipt["events"][0]["body"].replace("850", "851")
    with tempfile.TemporaryDirectory() as tmp:
        changed = Path(tmp) / "changed.json"
        changed.write_text(json.dumps(receipt), encoding="utf-8")
        assert run(changed) == 1
