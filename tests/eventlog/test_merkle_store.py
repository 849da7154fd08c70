"""The stored Merkle tree: maintained with every append, equal to the in-memory tree at every
size, backfilled for an older log, and read in a handful of range reads."""

from __future__ import annotations

from postex.bootstrap import Container
from postex.eventlog.events import NewEvent
from postex.eventlog.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.proofs import SqlProofs
from postex.eventlog.sql.store import SqlStore
from postex.eventlog.sql.tree import SqlTree, backfill

SITE = "ZZTREE"


def append(store: SqlStore, sizes: list[int]) -> None:
    """Appends of the given sizes, one transaction each."""
    n = 0
    for size in sizes:
        with store.write(SITE) as uow:
            uow.append([NewEvent("test.leaf.v1", {"n": n + i}) for i in range(size)])
        n += size


def hashes(store: SqlStore) -> list[bytes]:
    return [e.hash for e in store.read_events(SITE)]


def node_rows(node: Container) -> int:
    return int(execute_raw(node.engine, "SELECT count(*) FROM merkle_nodes")[0][0])


def test_the_stored_tree_equals_the_memory_tree_at_every_size(node: Container) -> None:
    """Appends of every shape (1 event, across a tile, a tile and more at once) leave a tree
    whose roots and proofs for many sizes equal the in-memory tree's; the nodes are there."""
    store = node._sql  # type: ignore[attr-defined]
    append(store, [1, 254, 1, 1, 300, 5, 256 * 3 + 7, 1])
    leaves = hashes(store)
    n = len(leaves)
    assert node_rows(node) == n // 256  # every full level-8 tile, and nothing else yet
    memory = MemoryTree(leaves)
    proofs = SqlProofs(store)
    for size in (1, 2, 255, 256, 257, 511, 512, 513, 1000, n):
        assert proofs.root(SITE, size) == (size, memory.root(size))
        for seq in {1, size, (size + 1) // 2}:
            digest, root, proof = proofs.inclusion(SITE, seq, size)
            assert digest == leaves[seq - 1] and proof == memory.inclusion(seq - 1, size)
            assert verify_inclusion(leaf_hash(digest), seq - 1, size, proof, root)
        for old in {1, size // 3 or 1, size}:
            old_root, new_root, proof = proofs.consistency(SITE, old, size)
            assert proof == memory.consistency(old, size)
            assert verify_consistency(old, size, proof, old_root, new_root)


def test_a_log_written_before_the_tree_is_answered_and_backfilled(node: Container) -> None:
    """With the stored nodes deleted, roots still come out right (computed from the log);
    backfill writes exactly the nodes the appends had written."""
    store = node._sql  # type: ignore[attr-defined]
    append(store, [600, 200])
    everything = "SELECT site, level, idx, hash FROM merkle_nodes ORDER BY idx"
    before = execute_raw(node.engine, everything)
    execute_raw(node.engine, "DELETE FROM merkle_nodes")
    memory = MemoryTree(hashes(store))
    assert SqlProofs(store).root(SITE) == (800, memory.root())
    with store.engine.begin() as conn:
        assert backfill(conn, SITE) == 3
    after = execute_raw(node.engine, everything)
    assert [tuple(map(bytes_or, r)) for r in after] == [tuple(map(bytes_or, r)) for r in before]


def bytes_or(value: object) -> object:
    return bytes(value) if isinstance(value, memoryview) else value


def test_a_proof_reads_a_few_tiles_not_the_log(node: Container) -> None:
    """An inclusion proof on a 70,000-leaf tree reads at most two tiles per stored level."""
    store = node._sql  # type: ignore[attr-defined]
    append(store, [35_000, 35_000])
    with store.engine.connect() as conn:
        tree = SqlTree(conn, SITE)
        proof = tree.inclusion(12_345, 70_000)
        assert tree.reads <= 6
    assert proof == MemoryTree(hashes(store)).inclusion(12_345, 70_000)


def test_the_open_tile_kept_in_memory_gives_the_same_nodes_as_the_events_table(
    node: Container,
) -> None:
    """Appends that reuse the last append's open tile from memory write exactly the nodes a
    process reading the events table writes; a stale tile (another writer) is not used."""
    store = node._sql  # type: ignore[attr-defined]
    append(store, [100, 100, 100, 3, 300])
    store._open_tiles[SITE] = (512, [b"\x00" * 32] * (603 - 512))  # stale: wrong hashes
    append(store, [200])
    leaves = hashes(store)
    memory = MemoryTree(leaves)
    rows = execute_raw(node.engine, "SELECT level, idx, hash FROM merkle_nodes ORDER BY idx")
    assert [(int(lv), int(i)) for lv, i, _ in rows] == [(8, i) for i in range(len(leaves) // 256)]
    assert [bytes(h) for _, _, h in rows] == [memory.node(8, i) for i in range(len(rows))]
    assert SqlProofs(store).root(SITE) == (803, memory.root())


def test_rebuild_writes_the_nodes_that_are_missing(node: Container) -> None:
    """`postex rebuild` (the rebuilder) fills in tree nodes deleted from the table."""
    store = node._sql  # type: ignore[attr-defined]
    append(store, [700])
    execute_raw(node.engine, "DELETE FROM merkle_nodes WHERE idx = 1")
    assert node_rows(node) == 1
    node.rebuilder.rebuild()
    assert node_rows(node) == 2
    assert SqlProofs(store).root(SITE) == (700, MemoryTree(hashes(store)).root())
