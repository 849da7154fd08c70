"""Tree heads and proofs of a site's log from its stored tree (:mod:`.tree`).

:class:`SqlProofs` is the :class:`postex.eventlog.ports.LogProofs` port: every answer is
read in one transaction, so a root and a proof agree even while the site appends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from postex.eventlog.merkle import EMPTY_ROOT
from postex.eventlog.sql.engine import readable
from postex.eventlog.sql.store import SqlStore
from postex.eventlog.sql.tree import SqlTree
from postex.kernel.errors import NotFoundError, ValidationError


class SqlProofs:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    @contextmanager
    def _tree(self, site: str) -> Iterator[tuple[SqlTree, int]]:
        with readable(self.store.engine, "the Merkle tree"), self.store.engine.connect() as conn:
            conn.begin()
            try:
                size = conn.exec_driver_sql(
                    f"SELECT seq FROM heads WHERE site = {self.store.ph}", (site,)
                ).scalar()
                yield SqlTree(conn, site), int(size or 0)
            finally:
                conn.rollback()

    def size(self, site: str) -> int:
        """The site's tree size: its number of events."""
        with self._tree(site) as (_, size):
            return size

    def root(self, site: str, size: int | None = None) -> tuple[int, bytes]:
        """(size, root hash) of the site's tree at ``size`` (default: all its events)."""
        with self._tree(site) as (tree, head):
            size = head if size is None else _within(size, head, "size")
            return size, (tree.root(size) if size else EMPTY_ROOT)

    def inclusion(self, site: str, seq: int, size: int) -> tuple[bytes, bytes, list[bytes]]:
        """(event hash, root at ``size``, inclusion proof) of event ``seq`` (leaf ``seq-1``)."""
        with self._tree(site) as (tree, head):
            _within(size, head, "tree_size")
            if not 1 <= seq <= size:
                raise ValidationError.single(
                    "seq", "in_tree", seq, f"an event of the tree: 1 to {size}"
                )
            row = tree.conn.exec_driver_sql(
                f"SELECT hash FROM events WHERE site = {self.store.ph} AND seq = {self.store.ph}",
                (site, seq),
            ).first()
            if row is None:
                raise NotFoundError(f"event {seq} of {site}")
            return bytes(row[0]), tree.root(size), tree.inclusion(seq - 1, size)

    def consistency(self, site: str, old: int, new: int) -> tuple[bytes, bytes, list[bytes]]:
        """(old root, new root, consistency proof) between two sizes of the site's tree."""
        with self._tree(site) as (tree, head):
            _within(new, head, "to")
            if not 1 <= old <= new:
                raise ValidationError.single("from", "tree_size", old, f"1 to {new}")
            return tree.root(old), tree.root(new), tree.consistency(old, new)


def _within(size: int, head: int, field: str) -> int:
    if not 1 <= size <= head:
        raise ValidationError.single(field, "tree_size", size, f"1 to {head} (the log's size)")
    return size
