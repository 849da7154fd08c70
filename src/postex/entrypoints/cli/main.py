"""``postex``: the command line. ``postex COMMAND --help`` shows an example for each."""

from __future__ import annotations

import typer

from postex.entrypoints.cli import bench, customers, keys, node

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


def main() -> None:
    app()
