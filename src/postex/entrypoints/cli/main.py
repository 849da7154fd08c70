"""``postex``: the command line. ``postex COMMAND --help`` shows an example for each."""

from __future__ import annotations

import gc

import typer

from postex.entrypoints.cli import (
    audit,
    backup,
    bench,
    customers,
    drill,
    holds,
    keys,
    node,
    partners,
    replication,
    users,
    worker,
)
from postex.entrypoints.cli import bench_holds as _bench_holds  # noqa: F401
from postex.entrypoints.cli import bench_manifest as _bench_manifest  # noqa: F401
from postex.entrypoints.cli import bench_rate as _bench_rate  # noqa: F401
from postex.entrypoints.cli import bench_replication as _bench_replication  # noqa: F401
from postex.entrypoints.cli import bench_site as _bench_site  # noqa: F401
from postex.entrypoints.cli import bench_tracking as _bench_tracking  # noqa: F401

app = typer.Typer(
    help="Postex: back office for international export mail on a tamper-evident log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
node.register(app)
app.add_typer(customers.app, name="customers")
app.add_typer(keys.app, name="keys")
app.add_typer(bench.app, name="bench")
app.add_typer(users.app, name="users")
app.add_typer(holds.app, name="holds")
app.command("audit")(audit.audit)
app.add_typer(partners.app, name="partners")
worker.register(app)
replication.register(app)
app.add_typer(backup.app, name="backup")
app.command("restore")(backup.restore)
app.add_typer(drill.app, name="drill")


def main() -> None:
    # Appends allocate many short-lived objects per batch; collecting the young generation
    # every 700 allocations (the default) costs 5-10 % of append throughput for no gain.
    gc.set_threshold(100_000, 50, 100)
    app()
