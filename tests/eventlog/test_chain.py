"""The batch hashing of an append and the row verifier agree with the one-event definition."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from postex.eventlog.chain import ChainState, chain_hashes, event_hash, verify_rows

TIME = "2026-11-24T01:02:03.456789Z"
types = st.sampled_from(["item.pre_advised.v1", "item.accepted.v1", "x.v1", "type.é.v1"])
batches = st.lists(st.tuples(types, st.binary(max_size=300)), min_size=1, max_size=30)


@given(prev=st.binary(min_size=0, max_size=40), first=st.integers(1, 2**40), batch=batches)
def test_chain_hashes_equal_event_by_event_hashing(prev: bytes, first: int, batch: list) -> None:  # type: ignore[type-arg]
    expected, last = [], prev
    for seq, (type_, body) in enumerate(batch, start=first):
        last = event_hash(last, "GBLALA", seq, TIME, type_, body)
        expected.append(last)
    got = chain_hashes(prev, "GBLALA", first, TIME, [t for t, _ in batch], [b for _, b in batch])
    assert got == expected


@given(batch=batches, flip=st.integers(0, 10_000))
def test_verify_rows_accepts_the_chain_and_finds_a_flipped_hash(batch: list, flip: int) -> None:  # type: ignore[type-arg]
    hashes = chain_hashes(
        bytes(32), "GBLALA", 1, TIME, [t for t, _ in batch], [b for _, b in batch]
    )
    prevs = [bytes(32), *hashes[:-1]]
    rows = [("GBLALA", i + 1, TIME, t, b, prevs[i], hashes[i]) for i, (t, b) in enumerate(batch)]
    assert verify_rows(ChainState("GBLALA"), rows) is None
    bad = flip % len(rows)
    digest = bytearray(rows[bad][6])
    digest[flip % 32] ^= 1
    rows[bad] = (*rows[bad][:6], bytes(digest))
    fault = verify_rows(ChainState("GBLALA"), rows)
    assert fault is not None and fault.seq == bad + 1
