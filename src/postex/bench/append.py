"""``postex bench append`` and ``postex bench verify``.

SQL here is fixed text (no values are interpolated), hence the S608 waivers.

append: pre-advised item events through the real path (seal personal data, build the
event, canonical encoding, hash chain, insert, projection update, in batches) against the
plainest batched INSERT (COPY on PostgreSQL) of the very same rows into a bare table.

verify: ``postex verify``'s code path against the simplest loop that reads the same rows
and hashes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import astuple, dataclass
from typing import Any

from postex.accounts.app.customers import create_customer
from postex.bench.common import median, scratch_node, timed
from postex.bench.storage import EventBatch, copy_event_batches, flush_to_disk
from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres
from postex.items.app.preadvice import pre_advise, pre_advised
from postex.items.domain.items import parse_pre_advice
from postex.items.events import ItemPreAdvised
from postex.items.samples import demo_item
from postex.kernel.ids import S10
from postex.network.app.integrity import verify_store

BARE_TABLE = """CREATE TABLE bench_plain (site VARCHAR(16) NOT NULL, seq BIGINT NOT NULL,
 recorded_at VARCHAR(32) NOT NULL, type VARCHAR(80) NOT NULL, body {blob} NOT NULL,
 prev_hash {blob} NOT NULL, hash {blob} NOT NULL, PRIMARY KEY (site, seq))"""
COLUMNS = "site, seq, recorded_at, type, body, prev_hash, hash"


@dataclass
class Result:
    store: str
    events: int
    real_per_s: float  # the log append path: build event, encode, hash, insert, project
    plain_per_s: float  # the same rows by the plainest batched INSERT / COPY
    use_case_per_s: float  # the whole pre-advice use case (validation, sealing, ids, holds)
    mean_body_bytes: int
    bulk_per_s: float = 0.0  # the same rows by the store's own bulk insert, nothing else

    ratio: float = 0.0  # median of the per-round ratios (each round's pair runs back to back)
    use_case_ratio: float = 0.0
    bulk_ratio: float = 0.0  # the append path against the store's own bulk insert: how much
    # encoding, hashing and projections cost on top of writing the rows the fastest way


def _rows(c: Container, after: int) -> list[tuple[Any, ...]]:
    return [
        (e.site, e.seq, e.recorded_at, e.type, e.body, e.prev_hash, e.hash)
        for e in c.store.read_events(c.settings.site, after_seq=after)
    ]


def _plain_insert(c: Container, rows: list[tuple[Any, ...]], batch: int) -> None:
    """The baseline: same rows, same batch size, one transaction per batch, nothing else."""
    with c.engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        cur = raw.cursor()
        if is_postgres(c.engine):
            for i in range(0, len(rows), batch):
                with cur.copy(f"COPY bench_plain ({COLUMNS}) FROM STDIN") as copy:
                    for row in rows[i : i + batch]:
                        copy.write_row(row)
                raw.commit()
        else:
            for i in range(0, len(rows), batch):
                cur.execute("BEGIN")
                cur.executemany(f"INSERT INTO bench_plain ({COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                                rows[i : i + batch])  # fmt: skip
                cur.execute("COMMIT")
        cur.close()


def _columns(rows: list[tuple[Any, ...]], batch: int) -> list[EventBatch]:
    """Rows cut into batches of columns, as the store's batch insert takes them."""
    out: list[EventBatch] = []
    for i in range(0, len(rows), batch):
        part = rows[i : i + batch]
        out.append((part[0][0], part[0][1], [r[2] for r in part], [r[3] for r in part],
                    [r[4] for r in part], [r[5] for r in part], [r[6] for r in part]))  # fmt: skip
    return out


def _reset_bare_table(c: Container) -> None:
    blob = "BYTEA" if is_postgres(c.engine) else "BLOB"
    execute_raw(c.engine, "DROP TABLE IF EXISTS bench_plain")
    execute_raw(c.engine, BARE_TABLE.format(blob=blob))


def bench_append(
    kind: str,
    events: int,
    batch: int = 1000,
    rounds: int = 3,
    pg_url: str | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> Result:
    with scratch_node(kind, pg_url) as c:
        customer = create_customer(c.ctx, "Bench Exports Ltd").record.id
        import random

        rng = random.Random(7)
        payloads = [demo_item(rng) for _ in range(batch)]
        advices = [parse_pre_advice(p) for p in payloads]
        # Item events as pre-advice makes them (personal data already sealed): the append
        # path proper builds each event with a fresh S10 id, then encodes, hashes, inserts
        # and projects it.
        with c.store.write(c.settings.site) as uow:
            made = [pre_advised(c.ctx, uow, customer, "LA000000000GB", a) for a in advices]
        # Every field but the first (the item id), in declaration order: each event is then
        # built the way pre-advice builds it, one constructor call with a fresh S10 id.
        templates = [astuple(m)[1:] for m in made]
        serial = 10_000_000
        real, plain, use_case, bulk = [], [], [], []

        def flush() -> None:
            flush_to_disk(c.engine)

        for r in range(rounds):
            start_seq = c.store.head(c.settings.site)[0]

            def run_append() -> None:
                nonlocal serial
                for _ in range(events // batch):
                    with c.store.write(c.settings.site) as uow:
                        evs = []
                        for t in templates:
                            serial += 1
                            evs.append(ItemPreAdvised(str(S10("LB", serial, "GB")), *t))
                        uow.append(evs)

            flush()  # each timed phase starts clean and pays for its own writes
            real.append(events / timed(run_append, flush))
            rows = _rows(c, start_seq)
            _reset_bare_table(c)
            flush()
            plain.append(
                len(rows) / timed(lambda rows=rows: _plain_insert(c, rows, batch), flush)  # type: ignore[misc]
            )
            _reset_bare_table(c)
            batches = _columns(rows, batch)
            flush()
            # The strict baseline: the same rows through the store's own batch insert (one
            # statement on SQLite, binary COPY on PostgreSQL), one transaction per batch.
            bulk.append(
                len(rows)
                / timed(
                    lambda b=batches: copy_event_batches(c.engine, "bench_plain", b),  # type: ignore[misc]
                    flush,
                )
            )

            def run_use_case() -> None:
                # As the API runs it: the request's payloads validated, then pre-advised.
                for _ in range(events // batch):
                    pre_advise(c.ctx, customer, [parse_pre_advice(p) for p in payloads])

            flush()
            use_case.append(events / timed(run_use_case, flush))
            progress(
                f"{kind} round {r + 1}/{rounds}: append {real[-1]:,.0f}/s, plain "
                f"{plain[-1]:,.0f}/s, bulk {bulk[-1]:,.0f}/s, pre-advice use case "
                f"{use_case[-1]:,.0f}/s"
            )
        body = sum(len(row[4]) for row in rows) // max(len(rows), 1)
        return Result(
            kind, events, median(real), median(plain), median(use_case), body, median(bulk),
            ratio=median([a / p for a, p in zip(real, plain, strict=True)]),
            use_case_ratio=median([u / p for u, p in zip(use_case, plain, strict=True)]),
            bulk_ratio=median([a / b for a, b in zip(real, bulk, strict=True)]),
        )  # fmt: skip


@dataclass
class VerifyResult:
    store: str
    events: int
    verify_per_s: float
    plain_per_s: float
    ratio: float  # median of the per-round ratios


def _plain_read_and_hash(c: Container) -> int:
    """The simplest loop: read the rows in seq order and SHA-256 each."""
    n = 0
    with c.engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        # bytea as raw bytes on PostgreSQL, as the verifier reads it (hex text is 3x slower)
        cur = raw.cursor(binary=True) if is_postgres(c.engine) else raw.cursor()
        cur.execute(f"SELECT {COLUMNS} FROM events ORDER BY site, seq")
        while rows := cur.fetchmany(5000):
            for r in rows:
                hashlib.sha256(r[4]).digest()
                n += 1
        cur.close()
    return n


def bench_verify(
    kind: str,
    events: int,
    rounds: int = 3,
    pg_url: str | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> VerifyResult:
    with scratch_node(kind, pg_url) as c:
        customer = create_customer(c.ctx, "Bench Exports Ltd").record.id
        import random

        rng = random.Random(7)
        advices = [parse_pre_advice(demo_item(rng)) for _ in range(1000)]
        for _ in range(events // 1000):
            pre_advise(c.ctx, customer, advices)
        total = c.store.head(c.settings.site)[0]
        trusted = c.trusted_keys()
        real, plain = [], []
        for r in range(rounds):
            reports: list[Any] = []

            def run_verify(out: list[Any] = reports) -> None:
                out.extend(verify_store(c.store, trusted))

            real.append(total / timed(run_verify))
            if not all(rep.ok for rep in reports):
                raise RuntimeError("the benchmark's own log did not verify")
            plain.append(total / timed(lambda: _plain_read_and_hash(c)))
            progress(
                f"{kind} round {r + 1}/{rounds}: verify {real[-1]:,.0f}/s, plain {plain[-1]:,.0f}/s"
            )
        ratios = [v / p for v, p in zip(real, plain, strict=True)]
        return VerifyResult(kind, total, median(real), median(plain), median(ratios))
