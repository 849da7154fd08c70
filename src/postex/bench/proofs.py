"""``postex bench proofs``: what the Merkle tree costs and what its proofs take.

1. Append: pre-advised item events in transactions of ``batch``, with the tree maintained
   and without (the same code with ``maintain_tree`` off; the nodes skipped are backfilled
   after, untimed), the order alternating by round; the ratio is the median per-round ratio.
2. Proofs on a large log: ``leaves`` events of a synthetic site are written straight into
   the events table (one row per leaf, the hash being SHA-256 of the seq: no chain, no
   bodies) and its tree nodes computed in one pass (:func:`stream_nodes`), as a log of that
   size would have them. Then inclusion proofs (random seq, tree size = all) and consistency
   proofs (random old size) through the same call the public routes make: p50 and p99.
3. Receipt verification: :func:`postex.network.app.receipts.check` on a real receipt of the
   scratch node (pre-advice and acceptance), p50 and p99.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from postex.accounts.app.customers import create_customer
from postex.bench.appending import preadvice_appender
from postex.bench.common import median, scratch_node, timed
from postex.bench.storage import flush_to_disk
from postex.bootstrap import Container
from postex.eventlog.sql.engine import write_connection
from postex.eventlog.sql.fast import insert_rows
from postex.eventlog.sql.proofs import SqlProofs
from postex.eventlog.sql.tree import NodeBuilder, backfill, insert_nodes
from postex.items.app.preadvice import pre_advised
from postex.items.domain.items import parse_pre_advice
from postex.items.samples import demo_item
from postex.kernel.ids import S10

SYNTHETIC = "ZZPROOF"


@dataclass
class ProofsResult:
    store: str
    events: int
    batch: int
    append_with: float
    append_without: float
    append_ratio: float
    leaves: int
    build_seconds: float
    inclusion_p50_ms: float
    inclusion_p99_ms: float
    consistency_p50_ms: float
    consistency_p99_ms: float
    receipt_p50_ms: float
    receipt_p99_ms: float


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _append_rates(
    c: Container, events: int, batch: int, rounds: int, progress: Callable[[str], None]
) -> tuple[float, float, float]:
    append_batches = preadvice_appender(c, batch)
    sql = c._sql

    def run() -> None:
        append_batches(events // batch)

    def append(tree: bool) -> float:
        flush_to_disk(c.engine)
        sql.maintain_tree = tree
        try:
            seconds = timed(run, lambda: flush_to_disk(c.engine))
        finally:
            sql.maintain_tree = True
        if not tree:  # untimed: the nodes the baseline skipped
            with write_connection(c.engine) as conn, conn.begin():
                backfill(conn, c.settings.site)
        return (events // batch) * batch / seconds

    with_tree: list[float] = []
    without: list[float] = []
    for r in range(rounds):
        pair = [(True, with_tree), (False, without)]
        for tree, out in pair if r % 2 == 0 else reversed(pair):
            out.append(append(tree))
        progress(f"round {r + 1}/{rounds}: {with_tree[-1]:,.0f} ev/s with the tree, "
                 f"{without[-1]:,.0f} without")  # fmt: skip
    ratio = median([w / o for w, o in zip(with_tree, without, strict=True)])
    return median(with_tree), median(without), ratio


def build_synthetic(c: Container, leaves: int, progress: Callable[[str], None]) -> float:
    """Write ``leaves`` synthetic events and their tree; returns the seconds it took."""
    started = time.perf_counter()
    chunk, zero, builder = 200_000, bytes(32), NodeBuilder()
    types = ("varchar", "int8", "varchar", "varchar", "bytea", "bytea", "bytea")
    columns = ("site", "seq", "recorded_at", "type", "body", "prev_hash", "hash")
    last = zero
    for lo in range(1, leaves + 1, chunk):
        rows, nodes = [], []
        for seq in range(lo, min(leaves, lo + chunk - 1) + 1):
            last = hashlib.sha256(seq.to_bytes(8, "big")).digest()
            rows.append((SYNTHETIC, seq, "", "bench.leaf.v1", b"", zero, last))
            nodes += builder.push(last)
        with write_connection(c.engine) as conn, conn.begin():
            insert_rows(conn, "events", columns, rows, types)
            insert_nodes(conn, SYNTHETIC, nodes)
        progress(f"synthetic log: {rows[-1][1]:,} of {leaves:,} leaves")
    with write_connection(c.engine) as conn, conn.begin():
        c._sql.upsert_head(conn, SYNTHETIC, leaves, last, "")
    flush_to_disk(c.engine)
    return time.perf_counter() - started


def _timings_ms(fn: Callable[[], object], n: int) -> tuple[float, float]:
    took = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        took.append((time.perf_counter() - t) * 1000)
    return _percentile(took, 0.5), _percentile(took, 0.99)


def _receipt(c: Container) -> dict[str, Any]:
    """A real receipt of the scratch node: an item pre-advised and accepted."""
    from postex.network.app.receipts import build
    from postex.network.sql.receipts import SqlReceiptSources
    from postex.sites.events import ItemAccepted

    site = c.settings.site
    customer = create_customer(c.ctx, "Receipt Ltd").record.id
    advice = parse_pre_advice(demo_item(random.Random(3)))
    with c.store.write(site) as uow:
        item = pre_advised(c.ctx, uow, customer, str(S10("LC", 1, "GB")), advice)
        uow.append([item])
        uow.append([ItemAccepted(item.item_id, site, item.weight_g, item.weight_g)])
    src = SqlReceiptSources(c._sql)
    seqs = c.store.head(site)[0]
    return build(src, item.item_id, site, [("pre-advice", seqs - 1), ("acceptance", seqs)])


def bench_proofs(
    kind: str,
    events: int,
    batch: int,
    rounds: int,
    leaves: int,
    samples: int,
    pg_url: str | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> ProofsResult:
    from postex.network.app.receipts import check

    with scratch_node(kind, pg_url) as c:
        a_with, a_without, ratio = _append_rates(c, events, batch, rounds, progress)
        build_s = build_synthetic(c, leaves, progress)
        proofs, rng = SqlProofs(c._sql), random.Random(11)
        inc = _timings_ms(lambda: proofs.inclusion(SYNTHETIC, rng.randint(1, leaves), leaves),
                          samples)  # fmt: skip
        con = _timings_ms(
            lambda: proofs.consistency(SYNTHETIC, rng.randint(1, leaves - 1), leaves), samples
        )
        receipt = _receipt(c)
        key = c.signer.public
        if not check(receipt, key).ok:
            raise RuntimeError("the benchmark's own receipt did not verify")
        rec = _timings_ms(lambda: check(receipt, key), samples)
        return ProofsResult(kind, events, batch, a_with, a_without, ratio, leaves, build_s,
                            *inc, *con, *rec)  # fmt: skip
