"""``postex catalogue``: the event catalogue as markdown (docs/events.md is its output)."""

from pathlib import Path

import typer

from postex.cli.common import out


def markdown() -> str:
    """docs/events.md for this node's catalogue and projections."""
    import postex
    from postex.bootstrap import CATALOGUE, projections
    from postex.eventlog.describe import render, writers_in_source

    node = projections()
    readers = {event_type: node.readers_of(event_type) for event_type in CATALOGUE.types}
    classes = list(CATALOGUE.types.values())
    writers = writers_in_source(Path(postex.__file__).parent, "postex", classes)
    feature_of = {cls.TYPE: cls.__module__.split(".")[1] for cls in classes}
    return render(CATALOGUE, readers, writers, feature_of)


def catalogue() -> None:
    """Print every stored event type: fields, units, who writes it, which projections read it.

    Example: postex catalogue > docs/events.md
    """
    out.print(markdown(), markup=False, highlight=False, soft_wrap=True, end="")


def register(app: typer.Typer) -> None:
    app.command("catalogue")(catalogue)
