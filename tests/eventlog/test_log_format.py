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
