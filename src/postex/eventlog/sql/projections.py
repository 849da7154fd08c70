"""The projection registry: each feature registers handlers per event type.

A handler receives a run of consecutive events of one type, so that it can write them
with one executemany. Projections run inside the append's transaction
(read-your-writes) and again, from the first event, in ``postex rebuild``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from sqlalchemy import Connection, Table

from postex.eventlog.events import StoredEvent

Handler = Callable[[Connection, Sequence[StoredEvent]], None]


@dataclass
class Projection:
    name: str
    tables: tuple[Table, ...]
    handlers: dict[str, Handler] = field(default_factory=dict)

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            for t in event_types:
                self.handlers[t] = fn
            return fn

        return register


PROJECTIONS: list[Projection] = []


def projection(name: str, *tables: Table) -> Projection:
    """Declare a projection; its handlers are added with ``@p.on("type.v1")``."""
    p = Projection(name, tables)
    PROJECTIONS.append(p)
    return p


def apply_all(conn: Connection, events: Sequence[StoredEvent]) -> None:
    # Runs in log order, each run through every projection: projections that touch the
    # same rows (item states) then see events in the same order live and in a rebuild.
    for type_, run in groupby(events, key=lambda e: e.type):
        batch = list(run)
        for p in PROJECTIONS:
            handler = p.handlers.get(type_)
            if handler is not None:
                handler(conn, batch)


def projection_tables() -> list[Table]:
    return [t for p in PROJECTIONS for t in p.tables]
