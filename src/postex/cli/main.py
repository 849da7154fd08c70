"""``postex``: the command line. ``postex COMMAND --help`` shows an example for each."""

from __future__ import annotations

import gc

import typer

from postex.accounts.cli import customers, partners, users
from postex.accounts.cli import kek as keys
from postex.bench import cli as bench
from postex.bench import holds as _bench_holds  # noqa: F401
from postex.bench import manifest as _bench_manifest  # noqa: F401
from postex.bench import rate as _bench_rate  # noqa: F401
from postex.bench import replication as _bench_replication  # noqa: F401
from postex.bench import site as _bench_site  # noqa: F401
from postex.bench import tracking as _bench_tracking  # noqa: F401
from postex.cli import node, worker
from postex.incidents.cli import audit, holds
from postex.network.cli import backup, drill, replication

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
