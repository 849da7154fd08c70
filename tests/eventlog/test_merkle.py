"""RFC 9162 tree hashes and proofs: published vectors, an independent MTH, any flipped byte."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from postex.eventlog import merkle
from postex.eventlog.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

# The RFC 6962 reference leaves and tree heads (transparency-dev/merkle's testonly data,
# also in certificate-transparency's tests), used as data only.
REF_LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]  # fmt: skip
REF_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
REF_INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip
REF_CONSISTENCY = {
    (2, 8): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}  # fmt: skip


def naive_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 written out as the text says, independently of the module."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:])).digest()


def flip(proof: list[bytes], at: int) -> list[bytes]:
    """The proof with one bit of one byte changed (``at`` picks which)."""
    i = at % len(proof)
    raw = bytearray(proof[i])
    raw[(at // len(proof)) % 32] ^= 1 << (at % 8)
    return [*proof[:i], bytes(raw), *proof[i + 1 :]]


def test_roots_and_proofs_match_the_published_rfc_6962_vectors() -> None:
    """Every root of sizes 0..8 and the published proofs come out byte for byte."""
    tree = MemoryTree(REF_LEAVES)
    assert [tree.root(n).hex() for n in range(9)] == REF_ROOTS
    assert EMPTY_ROOT.hex() == REF_ROOTS[0]
    for (index, size), proof in REF_INCLUSION.items():
        assert [p.hex() for p in tree.inclusion(index, size)] == proof
        leaf = leaf_hash(REF_LEAVES[index])
        root = bytes.fromhex(REF_ROOTS[size])
        assert verify_inclusion(leaf, index, size, [bytes.fromhex(p) for p in proof], root)
    for (old, new), proof in REF_CONSISTENCY.items():
        assert [p.hex() for p in tree.consistency(old, new)] == proof
        roots = bytes.fromhex(REF_ROOTS[old]), bytes.fromhex(REF_ROOTS[new])
        assert verify_consistency(old, new, [bytes.fromhex(p) for p in proof], *roots)


leaves_st = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70, unique=True)


@given(leaves=leaves_st)
def test_every_root_equals_the_naive_recursive_definition(leaves: list[bytes]) -> None:
    """The node-source root of every prefix equals MTH computed straight from the RFC."""
    tree = MemoryTree(leaves)
    for n in range(len(leaves) + 1):
        assert tree.root(n) == naive_mth(leaves[:n])


@given(leaves=leaves_st, pick=st.integers(0, 10**6), at=st.integers(0, 10**6))
def test_inclusion_proofs_verify_and_fail_for_any_flipped_byte(
    leaves: list[bytes], pick: int, at: int
) -> None:
    """A proof of leaf i in a tree of n verifies against MTH; a flipped bit, another index,
    another size or another leaf does not."""
    tree = MemoryTree(leaves)
    size = 1 + pick % len(leaves)
    index = (pick // len(leaves)) % size
    root = naive_mth(leaves[:size])
    proof = tree.inclusion(index, size)
    leaf = leaf_hash(leaves[index])
    assert verify_inclusion(leaf, index, size, proof, root)
    if proof:
        assert not verify_inclusion(leaf, index, size, flip(proof, at), root)
        assert not verify_inclusion(leaf, index, size, proof[:-1], root)
    assert not verify_inclusion(leaf, index, size, [*proof, bytes(32)], root)
    assert not verify_inclusion(flip([leaf], at)[0], index, size, proof, root)
    assert not verify_inclusion(leaf, index, size, proof, flip([root], at)[0])
    if size > 1:
        assert not verify_inclusion(leaf, (index + 1) % size, size, proof, root)


@given(leaves=leaves_st, pick=st.integers(0, 10**6), at=st.integers(0, 10**6))
def test_consistency_proofs_verify_and_fail_for_any_flipped_byte(
    leaves: list[bytes], pick: int, at: int
) -> None:
    """A proof between sizes m <= n verifies against both MTHs; a flipped bit in the proof
    or either root, or a different old tree, does not."""
    tree = MemoryTree(leaves)
    new = 1 + pick % len(leaves)
    old = 1 + (pick // len(leaves)) % new
    old_root, new_root = naive_mth(leaves[:old]), naive_mth(leaves[:new])
    proof = tree.consistency(old, new)
    assert verify_consistency(old, new, proof, old_root, new_root)
    assert not verify_consistency(old, new, proof, flip([old_root], at)[0], new_root)
    assert not verify_consistency(old, new, proof, old_root, flip([new_root], at)[0])
    if proof:
        assert not verify_consistency(old, new, flip(proof, at), old_root, new_root)
        assert not verify_consistency(old, new, proof[:-1], old_root, new_root)
    # a fork: the same old size, one leaf different
    forked = list(leaves[:old])
    forked[pick % old] = flip([forked[pick % old]], at)[0]
    assert not verify_consistency(old, new, proof, naive_mth(forked), new_root)


def test_proofs_refuse_indices_outside_the_tree() -> None:
    """Asking for a leaf or an old size beyond the tree is an error, not a wrong proof."""
    tree = MemoryTree(REF_LEAVES)
    for bad in ((8, 8), (-1, 8), (0, 0)):
        try:
            merkle.inclusion_proof(tree.node, *bad)
        except ValueError:
            continue
        raise AssertionError(bad)
    assert not verify_inclusion(leaf_hash(b""), 3, 3, [], EMPTY_ROOT)
    assert not verify_consistency(5, 4, [], EMPTY_ROOT, EMPTY_ROOT)
