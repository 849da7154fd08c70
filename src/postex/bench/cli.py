"""``postex bench …``: benchmarks that print the real path next to a same-run baseline."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from postex.cli.common import err, out

app = typer.Typer(help="Benchmarks; results belong in docs/benchmarks.md.", no_args_is_help=True)

PgOpt = Annotated[
    str | None,
    typer.Option(
        "--postgres",
        help="PostgreSQL server URL for the PostgreSQL half (a scratch database is created "
        "and dropped). Default: $POSTEX_TEST_DATABASE_URL; skipped if neither is set.",
    ),
]


def pg_url(given: str | None) -> str | None:
    return given or os.environ.get("POSTEX_TEST_DATABASE_URL") or None


@app.command("append")
def append(
    events: Annotated[int, typer.Option(help="Events per round.")] = 100_000,
    batch: Annotated[int, typer.Option(help="Events per transaction.")] = 1000,
    rounds: Annotated[int, typer.Option(help="Rounds; the median is reported.")] = 3,
    postgres: PgOpt = None,
) -> None:
    """Append throughput of the real path vs a plain batched INSERT/COPY, SQLite and PostgreSQL.

    Example: postex bench append --events 100000 --postgres postgresql://postgres@127.0.0.1/test
    """
    from postex.bench.append import bench_append
    from postex.bench.common import machine

    results = [bench_append("sqlite", events, batch, rounds, progress=err.print)]
    url = pg_url(postgres)
    if url:
        results.append(bench_append("postgres", events, batch, rounds, url, progress=err.print))
    table = Table(title=f"postex bench append — {machine()}")
    for col in ("store", "events/round", "append path ev/s", "plain insert ev/s", "ratio",
                "pre-advice ev/s", "ratio", "own bulk insert ev/s", "ratio", "body B"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(r.store, f"{r.events:,}", f"{r.real_per_s:,.0f}", f"{r.plain_per_s:,.0f}",
                      f"{r.ratio:.2f}", f"{r.use_case_per_s:,.0f}", f"{r.use_case_ratio:.2f}",
                      f"{r.bulk_per_s:,.0f}", f"{r.bulk_ratio:.2f}",
                      str(r.mean_body_bytes))  # fmt: skip
    out.print(table)
    err.print(
        "ratio = append path / plain batched INSERT (executemany; COPY on PostgreSQL), the "
        "issue's measure; the last ratio is against the store's own bulk insert of the same "
        "rows (one statement on SQLite, binary COPY on PostgreSQL): what encoding, hashing "
        "and projections cost on top of the fastest write."
    )


@app.command("verify")
def verify(
    events: Annotated[int, typer.Option(help="Events in the log.")] = 200_000,
    rounds: Annotated[int, typer.Option(help="Rounds; the median is reported.")] = 3,
    postgres: PgOpt = None,
) -> None:
    """`postex verify` rate vs the simplest read-and-hash loop over the same rows.

    Example: postex bench verify --events 200000
    """
    from postex.bench.append import bench_verify
    from postex.bench.common import machine

    results = [bench_verify("sqlite", events, rounds, progress=err.print)]
    url = pg_url(postgres)
    if url:
        results.append(bench_verify("postgres", events, rounds, url, progress=err.print))
    table = Table(title=f"postex bench verify — {machine()}")
    for col in ("store", "events", "verify ev/s", "read+hash ev/s", "ratio"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(r.store, f"{r.events:,}", f"{r.verify_per_s:,.0f}", f"{r.plain_per_s:,.0f}",
                      f"{r.ratio:.2f}")  # fmt: skip
    out.print(table)
