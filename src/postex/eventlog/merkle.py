"""Each site's log as an RFC 9162 Merkle tree: tree hashes, inclusion and consistency proofs.

The leaves are the events' stored hashes in seq order (event ``seq`` is leaf ``seq - 1``)::

    leaf hash = SHA-256(0x00 ‖ event hash)
    node hash = SHA-256(0x01 ‖ left ‖ right)

and the tree hash of ``n`` leaves is RFC 9162's MTH (section 2.1.1): the left subtree holds
the largest power of two below ``n``. Proofs are generated (2.1.3.1, 2.1.4.1) from a
*node source*: any function giving the hash of a full, aligned subtree — level ``L`` and
index ``i`` cover leaves ``i·2^L … (i+1)·2^L - 1``. Storage keeps some of those
(postex.eventlog.sql.tree); :class:`MemoryTree` computes them from a list. Verification
(2.1.3.2, 2.1.4.2) needs nothing but the proof. docs/log-format.md has test vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

NodeSource = Callable[[int, int], bytes]  # (level, index) -> hash of a full aligned subtree

EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256() (RFC 9162 2.1.1)
_sha256 = hashlib.sha256


def leaf_hash(leaf: bytes) -> bytes:
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n`` > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """The hash of a full subtree from its ``2^k`` bottom nodes (leaf or node hashes)."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def range_hash(node: NodeSource, lo: int, hi: int) -> bytes:
    """MTH of the leaves ``lo … hi-1``, where ``lo`` is a multiple of a power of two at least
    ``hi - lo`` (every range RFC 9162's recursion visits is): its full aligned subtrees,
    combined from the right."""
    size = hi - lo
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return node(level, lo >> level)
    k = _split(size)
    return node_hash(range_hash(node, lo, lo + k), range_hash(node, lo + k, hi))


def root(node: NodeSource, size: int) -> bytes:
    """The tree hash of the first ``size`` leaves."""
    return EMPTY_ROOT if size == 0 else range_hash(node, 0, size)


def inclusion_proof(node: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) (RFC 9162 2.1.3.1), nearest sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(range_hash(node, lo + k, hi))
            hi = lo + k
        else:
            path.append(range_hash(node, lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_proof(node: NodeSource, old: int, new: int) -> list[bytes]:
    """PROOF(old, D[0:new]) (RFC 9162 2.1.4.1); empty when ``old`` is 0 or ``new``."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    if old in (0, new):
        return []
    path: list[bytes] = []
    lo, hi, m, whole = 0, new, old, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            path.append(range_hash(node, lo + k, hi))
            hi = lo + k
        else:
            path.append(range_hash(node, lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        path.append(range_hash(node, lo, hi))
    path.reverse()
    return path


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root that ``proof`` leads to from ``leaf`` (a leaf hash), or None if the proof
    has the wrong shape (RFC 9162 2.1.3.2)."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` of the tree
    ``(size, expected_root)``."""
    return root_from_inclusion(leaf, index, size, proof) == expected_root


def verify_consistency(
    old: int, new: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> bool:
    """Whether ``proof`` shows the tree ``(new, new_root)`` extends ``(old, old_root)``
    (RFC 9162 2.1.4.2; equal sizes need equal roots and an empty proof)."""
    if not 0 <= old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof  # every tree extends the empty one
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


class MemoryTree:
    """A tree over an in-memory list of leaves (tests, the standalone checks, small logs),
    caching the full subtrees it computes."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    def append(self, leaf: bytes) -> None:
        self.levels[0].append(leaf_hash(leaf))
        i, level = len(self.levels[0]) - 1, 0
        while i & 1:  # a right child completes its parent
            if len(self.levels) == level + 1:
                self.levels.append([])
            below = self.levels[level]
            self.levels[level + 1].append(node_hash(below[i - 1], below[i]))
            i, level = i >> 1, level + 1

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def node(self, level: int, index: int) -> bytes:
        if index < 0 or (index + 1) << level > self.size:
            raise IndexError(f"no full subtree {level}/{index} in a tree of {self.size}")
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return root(self.node, self.size if size is None else size)

    def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(self.node, index, self.size if size is None else size)

    def consistency(self, old: int, new: int | None = None) -> list[bytes]:
        return consistency_proof(self.node, old, self.size if new is None else new)
