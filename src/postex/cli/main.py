"""``postex``: the command line. ``postex COMMAND --help`` shows an example for each.

The command modules imported here declare options and help only: each command imports
the node, the web app or a driver when it runs, so ``postex --help`` stays fast
(``tests/cli/test_cli_startup.py`` checks what start-up imports). They do not use
``from __future__ import annotations`` either: Typer reads every command's signature at
start-up, and string annotations cost it an ``eval`` of each ``typer.Option(...)`` twice.
"""

from __future__ import annotations

import typer

from postex.accounts.cli import customers, keys, partners, users
from postex.bench import cli as bench
from postex.cli import catalogue, node, worker
from postex.cli.common import Group, tune_gc
from postex.incidents.cli import audit, holds
from postex.network.cli import backup, drill, receipt, replication
from postex.sites.cli import failover as sites_failover

app = typer.Typer(
    cls=Group,
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
app.add_typer(sites_failover.app, name="sites")
app.command("audit")(audit.audit)
app.add_typer(partners.app, name="partners")
worker.register(app)
catalogue.register(app)
replication.register(app)
app.add_typer(backup.app, name="backup")
app.command("restore")(backup.restore)
app.add_typer(drill.app, name="drill")
app.add_typer(receipt.app, name="receipt")


def main() -> None:
    tune_gc()
    app()
