"""``postex bench eventsourcing``: the whole pre-advice use case against pyeventsourcing.

Each round runs, back to back and in alternating order, N pre-advised items through
Postex's use case (``items.app.preadvice.pre_advise``: validation, export-hold policy, S10
ids, AES-256-GCM sealing, the hash chain, the authenticated head, projections) and N
through the same use case modelled in eventsourcing 9.5.6 with its AES cipher on
(:mod:`postex.bench.eventsourcing_model`), both in transactions of ``batch`` items from
the same payloads, on the same store kind; each timed phase ends with its writes flushed
into the database files. The ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import random
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

from postex.accounts.app.customers import create_customer
from postex.bench.common import median, scratch_node, timed
from postex.bench.storage import flush_to_disk
from postex.bootstrap import normalise_url
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import parse_pre_advice
from postex.items.samples import demo_item

PINNED = "9.5.6"
INSTALL_HINT = (
    "this benchmark needs pyeventsourcing with its cipher: "
    "pip install -e '.[compare]'  (eventsourcing[crypto,postgres]==9.5.6)"
)


def missing() -> str | None:
    """Why the comparison cannot run here (eventsourcing or its cipher absent), or None."""
    try:
        import Crypto.Cipher.AES  # noqa: F401  # the cipher's pycryptodome
        import eventsourcing.application  # noqa: F401
    except ImportError:
        return INSTALL_HINT
    return None


def installed_version() -> str:
    from importlib.metadata import version

    return version("eventsourcing")


@dataclass
class CompareResult:
    store: str
    events: int
    batch: int
    postex_per_s: float  # the whole pre-advice use case
    eventsourcing_per_s: float  # the same use case in eventsourcing, cipher on
    ratio: float  # median of the per-round ratios postex / eventsourcing
    eventsourcing_version: str


@contextmanager
def _es_store(kind: str, pg_url: str | None) -> Iterator[tuple[dict[str, str], Path | None]]:
    """The environment of an eventsourcing application on a new SQLite file or a new
    PostgreSQL database (created and dropped here)."""
    from postex.bench import eventsourcing_model as model

    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="postex-bench-es-") as home:
            path = Path(home) / "eventsourcing.db"
            yield model.sqlite_env(str(path)), path
        return
    assert pg_url
    url = make_url(normalise_url(pg_url))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"es_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield model.postgres_env(
            url.host or "127.0.0.1", url.port or 5432, url.username or "postgres",
            url.password or "", name,
        ), None  # fmt: skip
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_compare(
    kind: str,
    events: int,
    batch: int = 1000,
    rounds: int = 3,
    pg_url: str | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> CompareResult:
    from postex.bench import eventsourcing_model as model

    rng = random.Random(7)
    payloads: list[dict[str, Any]] = [demo_item(rng) for _ in range(batch)]
    requests = events // batch
    with scratch_node(kind, pg_url) as c, _es_store(kind, pg_url) as (env, es_path):
        customer = create_customer(c.ctx, "Bench Exports Ltd").record.id
        app = model.make_app(env)

        def flush_es() -> None:
            if es_path is not None:
                model.flush_sqlite(str(es_path))
            else:
                flush_to_disk(c.engine)  # CHECKPOINT: the server's, both databases

        def run_postex() -> None:
            for _ in range(requests):  # as the API runs it: validate, then pre-advise
                pre_advise(c.ctx, customer, [parse_pre_advice(p) for p in payloads])

        def run_es() -> None:
            for _ in range(requests):
                app.pre_advise(c.settings.site, customer, payloads)

        def postex() -> float:
            flush_to_disk(c.engine)
            return requests * batch / timed(run_postex, lambda: flush_to_disk(c.engine))

        def es() -> float:
            flush_es()
            return requests * batch / timed(run_es, flush_es)

        ours: list[float] = []
        theirs: list[float] = []
        try:
            for r in range(rounds):
                if r % 2 == 0:
                    ours.append(postex())
                    theirs.append(es())
                else:
                    theirs.append(es())
                    ours.append(postex())
                progress(
                    f"{kind} round {r + 1}/{rounds}: Postex pre-advice {ours[-1]:,.0f}/s, "
                    f"eventsourcing {theirs[-1]:,.0f}/s ({ours[-1] / theirs[-1]:.2f}x)"
                )
            stored = app.recorder.max_notification_id() or 0
            if stored != rounds * requests * batch:
                raise RuntimeError(f"eventsourcing stored {stored} events, not the ones sent")
        finally:
            app.close()
        return CompareResult(
            kind, requests * batch, batch, median(ours), median(theirs),
            median([o / t for o, t in zip(ours, theirs, strict=True)]), installed_version(),
        )  # fmt: skip
