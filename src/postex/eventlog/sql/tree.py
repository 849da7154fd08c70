"""Each site's Merkle tree (postex.eventlog.merkle) kept beside its log, in tiles.

The table ``merkle_nodes(site, level, idx, hash)`` holds the hash of every *full* subtree
at the levels 8, 16, 24 …: node ``(L, i)`` covers leaves ``i·2^L … (i+1)·2^L - 1``. Level 0
is the log itself (leaf hash = SHA-256(0x00 ‖ events.hash)). Any other full subtree is
computed from at most 128 hashes of the stored level below it, all in one *tile* (256
consecutive nodes of one stored level, as in C2SP tlog-tiles with height 8). So a root, an
inclusion proof or a consistency proof for any tree size reads at most two tiles per eight
levels: three or four range reads on a log of ten million events.

Rows are written in the transaction that appends the events whose leaves complete them:
one insert per 256 events on average, none for most appends. A log written before the
table existed (or a row missing) is still answered correctly: a node not stored is
computed from the level below (slowly); :func:`backfill` writes them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Connection

from postex.eventlog.merkle import consistency_proof, inclusion_proof, leaf_hash, perfect_root, root
from postex.eventlog.sql.fast import executemany, fetchall

HEIGHT = 8  # levels per tile
WIDTH = 1 << HEIGHT  # nodes per tile


class SqlTree:
    """The node source (postex.eventlog.merkle.NodeSource) of one site over a connection.

    ``new_first``/``new_hashes``: event hashes of leaves ``new_first …`` appended in this
    transaction, taken from memory rather than read back. Short-lived: tiles are cached.
    """

    def __init__(
        self,
        conn: Connection,
        site: str,
        new_first: int = 0,
        new_hashes: Sequence[bytes] = (),
    ) -> None:
        self.conn = conn
        self.site = site
        self.new_first = new_first
        self.new_hashes = new_hashes
        self._tiles: dict[tuple[int, int], dict[int, bytes]] = {}
        self.reads = 0  # range reads made (the benchmark reports them)

    # --- the node source -------------------------------------------------------------
    def node(self, level: int, idx: int) -> bytes:
        base = level - level % HEIGHT
        if base == level:
            return self._stored(level, idx)
        span = level - base
        lo, hi = idx << span, (idx + 1) << span
        tile = self._tile(base, lo >> HEIGHT)  # the 2^span children lie in one tile
        hashes = [tile.get(i) for i in range(lo, hi)]
        if None in hashes:
            hashes = [self._stored(base, i) for i in range(lo, hi)]
        return perfect_root(hashes)  # type: ignore[arg-type]

    def computed(self, level: int, idx: int) -> bytes:
        """Node ``(level, idx)`` of a stored level, computed from the stored level below."""
        below, lo = level - HEIGHT, idx << HEIGHT
        tile = self._tile(below, idx)  # the children are exactly one tile of the level below
        hashes = [tile.get(i) for i in range(lo, lo + WIDTH)]
        if None in hashes:
            hashes = [self._stored(below, i) for i in range(lo, lo + WIDTH)]
        return perfect_root(hashes)  # type: ignore[arg-type]

    def _stored(self, level: int, idx: int) -> bytes:
        tile = self._tile(level, idx >> HEIGHT)
        found = tile.get(idx)
        if found is None:
            if level == 0:
                raise LookupError(f"{self.site} has no event {idx + 1}")
            found = tile[idx] = self.computed(level, idx)  # not stored (yet): from below
        return found

    def remember(self, level: int, idx: int, digest: bytes) -> None:
        self._tile(level, idx >> HEIGHT)[idx] = digest

    def _tile(self, level: int, t: int) -> dict[int, bytes]:
        key = (level, t)
        tile = self._tiles.get(key)
        if tile is None:
            tile = self._tiles[key] = self._load(level, t * WIDTH, (t + 1) * WIDTH)
        return tile

    def _load(self, level: int, lo: int, hi: int) -> dict[int, bytes]:
        if level:
            self.reads += 1
            rows = fetchall(
                self.conn,
                "SELECT idx, hash FROM merkle_nodes WHERE site = ? AND level = ?"
                " AND idx >= ? AND idx < ?",
                (self.site, level, lo, hi),
            )
            return {int(i): bytes(h) for i, h in rows}
        out: dict[int, bytes] = {}
        first, new = self.new_first, self.new_hashes
        db_hi = min(hi, first) if new else hi
        if lo < db_hi:
            self.reads += 1
            rows = fetchall(
                self.conn,
                "SELECT seq, hash FROM events WHERE site = ? AND seq > ? AND seq <= ?",
                (self.site, lo, db_hi),
            )
            out = {int(s) - 1: leaf_hash(bytes(h)) for s, h in rows}
        for i in range(max(lo, first), min(hi, first + len(new))) if new else ():
            out[i] = leaf_hash(new[i - first])
        return out

    # --- what callers ask --------------------------------------------------------------
    def root(self, size: int) -> bytes:
        return root(self.node, size)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return inclusion_proof(self.node, index, size)

    def consistency(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(self.node, old, new)


def completed(old_size: int, new_size: int) -> Iterator[tuple[int, int]]:
    """The stored nodes ``(level, idx)`` that growing a tree from ``old_size`` to
    ``new_size`` leaves completes, lowest level first."""
    level = HEIGHT
    while new_size >> level > old_size >> level:
        for idx in range(old_size >> level, new_size >> level):
            yield level, idx
        level += HEIGHT


def extend(
    conn: Connection,
    site: str,
    old_size: int,
    new_hashes: Sequence[bytes],
    tree: SqlTree | None = None,
) -> list[tuple[int, int, bytes]]:
    """Write the nodes that appending ``new_hashes`` (event hashes) after ``old_size``
    completes; in the caller's transaction. Returns them as (level, idx, hash). ``tree``:
    the transaction's tree over those hashes, kept for a tree head signed next."""
    new_size = old_size + len(new_hashes)
    if new_size >> HEIGHT == old_size >> HEIGHT:
        return []  # most appends: no tile completes
    tree = tree or SqlTree(conn, site, old_size, new_hashes)
    rows: list[tuple[int, int, bytes]] = []
    for level, idx in completed(old_size, new_size):
        digest = tree.computed(level, idx)
        tree.remember(level, idx, digest)
        rows.append((level, idx, digest))
    insert_nodes(conn, site, rows)
    return rows


def insert_nodes(conn: Connection, site: str, rows: Iterable[tuple[int, int, bytes]]) -> None:
    executemany(
        conn,
        "INSERT INTO merkle_nodes (site, level, idx, hash) VALUES (?, ?, ?, ?)",
        [(site, level, idx, digest) for level, idx, digest in rows],
    )


class NodeBuilder:
    """Computes the stored nodes of a log from its event hashes, fed in seq order."""

    def __init__(self) -> None:
        self.pending: list[list[bytes]] = [[]]  # per stored level, the nodes of its open tile
        self.counts: list[int] = [0]

    def push(self, event_hash: bytes) -> list[tuple[int, int, bytes]]:
        """The nodes (level, idx, hash) the leaf of ``event_hash`` completes."""
        pending, counts = self.pending, self.counts
        pending[0].append(leaf_hash(event_hash))
        done: list[tuple[int, int, bytes]] = []
        level = 0
        while len(pending[level]) == WIDTH:
            digest = perfect_root(pending[level])
            pending[level].clear()
            if len(pending) == level + 1:
                pending.append([])
                counts.append(0)
            pending[level + 1].append(digest)
            done.append(((level + 1) * HEIGHT, counts[level + 1], digest))
            counts[level + 1] += 1
            level += 1
        return done


def stream_nodes(hashes: Iterable[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """Every stored node of a log whose event hashes are ``hashes`` (in seq order), as
    each completes: the backfill."""
    builder = NodeBuilder()
    for h in hashes:
        yield from builder.push(h)


def backfill(conn: Connection, site: str, batch: int = 20_000) -> int:
    """Write every missing stored node of ``site`` (a log older than the tree). Returns
    how many were written."""
    have = {
        (int(level), int(idx))
        for level, idx in fetchall(
            conn, "SELECT level, idx FROM merkle_nodes WHERE site = ?", (site,)
        )
    }

    def hashes() -> Iterator[bytes]:
        after = 0
        while True:
            rows = fetchall(
                conn,
                "SELECT seq, hash FROM events WHERE site = ? AND seq > ? ORDER BY seq LIMIT ?",
                (site, after, batch),
            )
            if not rows:
                return
            for _, digest in rows:
                yield bytes(digest)
            after = int(rows[-1][0])

    missing = [row for row in stream_nodes(hashes()) if (row[0], row[1]) not in have]
    insert_nodes(conn, site, missing)
    return len(missing)
