"""``postex bench …``: benchmarks that print the real path next to a same-run baseline.

Every benchmark's command is declared here, in the order ``postex bench --help`` lists
them; each imports its module (which builds nodes, servers, NATS clients) only when it runs.
"""

import os
from typing import Annotated

import typer

from postex.cli.common import DbOpt, Group, HomeOpt, err, handle_errors, out

app = typer.Typer(
    cls=Group, help="Benchmarks; results belong in docs/benchmarks.md.", no_args_is_help=True
)

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
    from rich.table import Table

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
    from rich.table import Table

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


@app.command("authlog")
def authlog(
    events: Annotated[int, typer.Option(help="Events per round and node.")] = 50_000,
    batch: Annotated[int, typer.Option(help="Events per transaction.")] = 1000,
    rounds: Annotated[int, typer.Option(help="Rounds; the median is reported.")] = 3,
    postgres: PgOpt = None,
) -> None:
    """Append and verify with the authenticated log vs the same code without a log key.

    Example: postex bench authlog --events 50000 --batch 1000 --postgres postgresql://postgres@127.0.0.1/test
    """
    from rich.table import Table

    from postex.bench.authlog import bench_authlog
    from postex.bench.common import machine

    results = [bench_authlog("sqlite", events, batch, rounds, progress=err.print)]
    url = pg_url(postgres)
    if url:
        results.append(bench_authlog("postgres", events, batch, rounds, url, progress=err.print))
    table = Table(title=f"postex bench authlog — {machine()}")
    for col in ("store", "batch", "append with ev/s", "without", "ratio", "verify with ev/s",
                "without", "ratio"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(r.store, str(r.batch), f"{r.append_with:,.0f}", f"{r.append_without:,.0f}",
                      f"{r.append_ratio:.2f}", f"{r.verify_with:,.0f}",
                      f"{r.verify_without:,.0f}", f"{r.verify_ratio:.2f}")  # fmt: skip
    out.print(table)


@app.command("eventsourcing")
@handle_errors
def eventsourcing(
    events: Annotated[int, typer.Option(help="Items per round and library.")] = 50_000,
    batch: Annotated[int, typer.Option(help="Items per transaction (request).")] = 1000,
    rounds: Annotated[int, typer.Option(help="Rounds; the median is reported.")] = 3,
    postgres: PgOpt = None,
) -> None:
    """The whole pre-advice use case vs pyeventsourcing 9.5.6 with its AES cipher on, side by
    side in one run (needs the compare extra: pip install -e '.[compare]').

    Example: postex bench eventsourcing --events 50000 --postgres postgresql://postgres@127.0.0.1/test
    """
    from rich.table import Table

    from postex.bench.common import machine
    from postex.bench.compare import PINNED, bench_compare, installed_version, missing

    why = missing()
    if why is not None:
        err.print(why, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    if installed_version() != PINNED:
        err.print(
            f"note: eventsourcing {installed_version()} is installed; the figure is for {PINNED}"
        )
    results = [bench_compare("sqlite", events, batch, rounds, progress=err.print)]
    url = pg_url(postgres)
    if url:
        results.append(bench_compare("postgres", events, batch, rounds, url, progress=err.print))
    table = Table(title=f"postex bench eventsourcing — {machine()}")
    for col in ("store", "items/round", "batch", "Postex pre-advice ev/s",
                "eventsourcing (cipher on) ev/s", "ratio"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(r.store, f"{r.events:,}", f"{r.batch:,}", f"{r.postex_per_s:,.0f}",
                      f"{r.eventsourcing_per_s:,.0f}", f"{r.ratio:.2f}")  # fmt: skip
    out.print(table)
    err.print(
        f"eventsourcing {results[0].eventsourcing_version}, AES-GCM cipher on, one aggregate per "
        "item; ratio = Postex / eventsourcing, median of the per-round ratios (goal ≥ 2)."
    )


@app.command("proofs")
@handle_errors
def proofs(
    events: Annotated[int, typer.Option(help="Events per round and mode (append).")] = 50_000,
    batch: Annotated[int, typer.Option(help="Events per transaction.")] = 1000,
    rounds: Annotated[int, typer.Option(help="Rounds; the median is reported.")] = 3,
    leaves: Annotated[int, typer.Option(help="Leaves of the synthetic log.")] = 10_000_000,
    samples: Annotated[int, typer.Option(help="Proofs and receipt checks timed.")] = 1000,
    postgres: PgOpt = None,
) -> None:
    """Append with the Merkle tree maintained vs without (same run); inclusion and
    consistency proof p50/p99 on a synthetic log of --leaves; receipt verification time.

    Example: postex bench proofs --events 50000 --leaves 10000000 --postgres postgresql://postgres@127.0.0.1/test
    """
    from rich.table import Table

    from postex.bench.common import machine
    from postex.bench.proofs import bench_proofs

    args = (events, batch, rounds, leaves, samples)
    results = [bench_proofs("sqlite", *args, progress=err.print)]
    url = pg_url(postgres)
    if url:
        results.append(bench_proofs("postgres", *args, url, progress=err.print))
    table = Table(title=f"postex bench proofs — {machine()}")
    for col in ("store", "batch", "append with tree ev/s", "without", "ratio", "leaves",
                "build s", "inclusion p50/p99 ms", "consistency p50/p99 ms",
                "receipt check p50/p99 ms"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(r.store, str(r.batch), f"{r.append_with:,.0f}", f"{r.append_without:,.0f}",
                      f"{r.append_ratio:.3f}", f"{r.leaves:,}", f"{r.build_seconds:.0f}",
                      f"{r.inclusion_p50_ms:.2f} / {r.inclusion_p99_ms:.2f}",
                      f"{r.consistency_p50_ms:.2f} / {r.consistency_p99_ms:.2f}",
                      f"{r.receipt_p50_ms:.2f} / {r.receipt_p99_ms:.2f}")  # fmt: skip
    out.print(table)


@app.command("console")
@handle_errors
def console(
    clerks: Annotated[int, typer.Option("--clerks", min=1, help="Clerks scanning at once.")] = 4,
    scans: Annotated[int, typer.Option("--scans", min=10, help="Scans per clerk a round.")] = 150,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Rounds of each path.")] = 3,
    postgres: PgOpt = None,
) -> None:
    """A scan through the console (session, CSRF, acceptance, rendered answer) vs the JSON
    acceptance route, four clerks at once, on one server in one run: ratio and p99.

    Example: postex bench console --clerks 4 --scans 150 --postgres postgresql://postgres@127.0.0.1/test
    """
    from postex.bench.console import bench_console

    bench_console(clerks, scans, rounds, pg_url(postgres))


@app.command("holds")
@handle_errors
def holds(
    items: Annotated[int, typer.Option("--items", help="Accepted items the hold covers.")] = 20_000,
    batch: Annotated[int, typer.Option("--batch", help="Letters per pre-advice batch.")] = 1_000,
    runs: Annotated[int, typer.Option("--runs", help="Repetitions (medians are reported).")] = 3,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Hold and release N accepted items; pre-advice with and without an active hold.

    Example: postex bench holds --items 20000 --runs 3
    """
    from postex.bench.holds import bench_holds

    bench_holds(items, batch, runs, db, home)


@app.command("manifest")
@handle_errors
def manifest(
    items: Annotated[int, typer.Option("--items", help="Items in the manifest.")] = 10_000,
    runs: Annotated[int, typer.Option("--runs", help="Runs per variant (median shown).")] = 3,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """POST a manifest to a real uvicorn server on SQLite; print seconds and items/s.

    Without --db/--home every run uses a fresh node in a temporary directory.

    Example: postex bench manifest --items 10000 --runs 3
    """
    from postex.bench.manifest import bench_manifest

    bench_manifest(items, runs, db, home, as_json)


@app.command("portal")
@handle_errors
def portal(
    items: Annotated[int, typer.Option("--items", min=1, help="Items in each manifest.")] = 10_000,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Rounds of each path.")] = 2,
    labels: Annotated[int, typer.Option("--labels", min=1, help="Labels in the batch PDF.")] = 500,
) -> None:
    """A CSV manifest through the sender portal vs the API, alternating on one server in one
    run (ratio of items/s), then one PDF of 500 labels through both.

    Example: postex bench portal --items 10000 --rounds 2 --labels 500
    """
    from postex.bench.portal import bench_portal

    bench_portal(items, rounds, labels)


@app.command("rate-limit")
@handle_errors
def rate_limit(
    requests: Annotated[int, typer.Option("--requests", help="Checks per phase.")] = 5_000,
    keys: Annotated[int, typer.Option("--keys", help="Distinct API key ids.")] = 100,
    threads: Annotated[int, typer.Option("--threads", help="Concurrent checkers.")] = 4,
    batch: Annotated[int, typer.Option("--batch", help="Letters per write, under load.")] = 500,
    runs: Annotated[int, typer.Option("--runs", help="Repetitions (medians are reported).")] = 3,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Per-request cost of the shared rate limiter against the in-process one.

    Example: postex bench rate-limit --db postgresql://postgres@127.0.0.1:5432/bench
    """
    from postex.bench.rate import bench_rate_limit

    bench_rate_limit(requests, keys, threads, batch, runs, db, home)


@app.command("replication")
@handle_errors
def replication(
    nats: Annotated[str, typer.Option("--nats", help="NATS URL with JetStream.")] = "",
    hub_db: Annotated[str | None, typer.Option("--hub-db", help="Hub database URL.")] = None,
    events: Annotated[int, typer.Option("--events", help="Events per replication run.")] = 100_000,
    baseline_events: Annotated[
        int,
        typer.Option(
            "--baseline-events", help="Events for the baseline (one per message, each ack awaited)."
        ),
    ] = 5_000,
    runs: Annotated[int, typer.Option("--runs", help="Runs per figure (median).")] = 3,
    drill_events: Annotated[
        int, typer.Option("--drill-events", help="Site size for the drill's RTO (0: skip).")
    ] = 1_000_000,
) -> None:
    """Events/s replicated through JetStream, restore events/s, and the drill's RTO.

    Example: postex bench replication --nats nats://127.0.0.1:4222 --runs 3
    """
    from postex.bench.replication import bench_replication

    bench_replication(nats, hub_db, events, baseline_events, runs, drill_events)


@app.command("network")
@handle_errors
def network(
    sites: Annotated[int, typer.Option("--sites", min=1, max=6, help="Sites beside the hub.")] = 3,
    rate: Annotated[
        float, typer.Option("--rate", min=1, help="Pre-advices per second, network-wide.")
    ] = 500,
    seconds: Annotated[float, typer.Option("--seconds", min=1, help="Time at --rate.")] = 20,
    nats: Annotated[
        str, typer.Option("--nats", help="NATS URL with JetStream.")
    ] = "nats://127.0.0.1:4222",
    backlog: Annotated[
        int, typer.Option("--backlog", min=1, help="Pre-advice per site for the throughput runs.")
    ] = 2000,
    runs: Annotated[int, typer.Option("--runs", min=0, help="Throughput runs (median).")] = 3,
    processes: Annotated[
        bool,
        typer.Option("--processes", help="Throughput runs with one OS process per node."),
    ] = False,
    failover_items: Annotated[
        int, typer.Option("--failover-items", min=1, help="Items the failover run moves.")
    ] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Pre-advice visible at every other site (p50/p99 at --rate) and fan-out events/s
    against one-way replication (site -> hub), a hub and N sites in one process, real NATS
    (a subject prefix of the run's own; its streams are deleted afterwards). Then a
    failover confirmed at the hub, timed to the first moved item bagged at the survivor.

    The latency always runs in one process; --processes gives each node of the throughput
    runs a process of its own (as `postex network up` would).

    Example: postex bench network --sites 3 --rate 500 --seconds 20 --nats nats://127.0.0.1:4222
    """
    from postex.bench.network import bench_network, print_result, result_json
    from postex.cli.common import emit_json

    result = bench_network(nats, sites, rate, seconds, backlog, runs, processes, failover_items)
    if as_json:
        emit_json({"ok": True, **result_json(result)})
        return
    print_result(result)


@app.command("site")
@handle_errors
def site(
    items: Annotated[int, typer.Option("--items", min=100, help="Items in the day.")] = 50_000,
    postgres: Annotated[
        str | None,
        typer.Option("--postgres", help="Also run on this (empty) PostgreSQL database URL."),
    ] = None,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """A day at one site: accept, sort into bags, close and hand over 20+ despatches.

    Runs on a fresh SQLite file (or --db, which must be empty) and, with --postgres, on
    PostgreSQL too. Scans are acceptance scans plus receptacle scans plus despatched items.

    Example: postex bench site --items 50000 --postgres postgresql://postgres@127.0.0.1/bench
    """
    from postex.bench.site import bench_site

    bench_site(items, postgres, db, home)


@app.command("tracking")
@handle_errors
def tracking(
    items: Annotated[int, typer.Option("--items", help="Items the node serves.")] = 1_000_000,
    seconds: Annotated[float, typer.Option("--seconds", help="Time per load phase.")] = 10.0,
    requests: Annotated[int, typer.Option("--requests", help="Cap per load phase.")] = 50_000,
    conns: Annotated[int, typer.Option("--connections", help="Keep-alive connections.")] = 4,
    partner_events: Annotated[
        int, typer.Option("--partner-events", help="Partner events to ingest.")
    ] = 50_000,
    port: Annotated[int, typer.Option("--port", help="Port for the server (0: any free).")] = 0,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Public tracking lookups/s vs a trivial endpoint (ratio, p50/p99), partner events/s.

    Example: postex bench tracking --items 1000000 --seconds 10
    """
    from postex.bench.tracking import bench_tracking

    bench_tracking(items, seconds, requests, conns, partner_events, port, db, home)


@app.command("labels")
@handle_errors
def labels(
    runs: Annotated[int, typer.Option("--runs", min=5, help="Labels rendered.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    home: HomeOpt = None,
) -> None:
    """Median time to render one 4×6 label with a full address and a CN22 (goal < 20 ms).

    Example: postex bench labels --runs 200
    """
    import dataclasses
    import json

    from postex.bench.labels import bench_labels, report

    del home  # renders in memory: no node, no database
    result = bench_labels(runs)
    if as_json:
        print(json.dumps(dataclasses.asdict(result)))
    else:
        report(result)


@app.command("serve")
@handle_errors
def serve(
    items: Annotated[int, typer.Option("--items", help="Items the node serves.")] = 100_000,
    seconds: Annotated[int, typer.Option("--seconds", help="Seconds per wrk case.")] = 10,
    conns: Annotated[int, typer.Option("--connections", help="wrk connections.")] = 2,
    rounds: Annotated[int, typer.Option("--rounds", help="Rounds of every case.")] = 3,
    wconns: Annotated[
        int, typer.Option("--workers-connections", help="wrk connections, --workers 2 vs 1.")
    ] = 16,
    warm: Annotated[
        int, typer.Option("--warm", help="Seconds of the in-order warm-up walk per case.")
    ] = 12,
    pin: Annotated[
        bool,
        typer.Option("--pin", help="taskset: wrk on the last core, one server process on "
                     "the first, --workers 2 on all."),
    ] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:  # fmt: skip
    """Public tracking served as deployed, with wrk: observability on vs off, the answer
    cache off, against a bare async endpoint, and --workers 2 vs 1, with the CPU wrk and
    the server used (needs wrk: apt-get install wrk).

    Example: postex bench serve --items 100000 --seconds 10 --rounds 3 --pin
    """
    from postex.bench.serve import bench_serve

    bench_serve(items, seconds, conns, db, home, rounds, warm, wconns, pin)
