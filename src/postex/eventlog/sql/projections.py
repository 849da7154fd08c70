"""Projections: tables rebuilt from the log, each with handlers per event type.

A handler receives a run of consecutive events of one type, decoded into their catalogue
records (``e.event``), so that it can write them with one executemany. Projections run
inside the append's transaction (read-your-writes) and again, from the first event, in
``postex rebuild``. Which projections a node runs, and in which order, is written once in
``bootstrap.PROJECTIONS``; nothing registers itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, TypeVar, overload

from sqlalchemy import Connection, Table

from postex.eventlog.catalogue import Catalogue, Event
from postex.eventlog.events import StoredEvent

E = TypeVar("E", bound=Event)
E1 = TypeVar("E1", bound=Event)
E2 = TypeVar("E2", bound=Event)
E3 = TypeVar("E3", bound=Event)
Handler = Callable[[Connection, Sequence[StoredEvent[E]]], None]
AnyHandler = Callable[[Connection, Sequence[StoredEvent[Any]]], None]


@dataclass
class Projection:
    """Tables and the handlers that keep them. ``otherwise`` runs for every other type."""

    name: str
    tables: tuple[Table, ...]
    handlers: dict[str, AnyHandler] = field(default_factory=dict)
    otherwise: AnyHandler | None = None

    @overload
    def on(self, a: type[E1], /) -> Callable[[Handler[E1]], Handler[E1]]: ...
    @overload
    def on(self, a: type[E1], b: type[E2], /) -> Callable[[Handler[E1 | E2]], Handler[E1 | E2]]: ...
    @overload
    def on(
        self, a: type[E1], b: type[E2], c: type[E3], /
    ) -> Callable[[Handler[E1 | E2 | E3]], Handler[E1 | E2 | E3]]: ...

    def on(self, *classes: type[Event]) -> Callable[[Any], Any]:
        def register(fn: Any) -> Any:
            for cls in classes:
                self.handlers[cls.TYPE] = fn
            return fn

        return register


def projection(name: str, *tables: Table) -> Projection:
    """Declare a projection; its handlers are added with ``@p.on(SomeEvent)``."""
    return Projection(name, tables)


class Projections:
    """The ordered projections of a node and the catalogue their events are read with."""

    def __init__(self, catalogue: Catalogue, projections: Sequence[Projection]) -> None:
        self.catalogue = catalogue
        self.items = tuple(projections)
        self._dispatch: dict[str, tuple[AnyHandler, ...]] = {}

    def tables(self) -> list[Table]:
        return [t for p in self.items for t in p.tables]

    def handlers_for(self, stored_type: str) -> tuple[AnyHandler, ...]:
        found = self._dispatch.get(stored_type)
        if found is None:
            current = self.catalogue.current_type(stored_type)
            chosen = [p.handlers.get(current, p.otherwise) for p in self.items]
            found = self._dispatch[stored_type] = tuple(h for h in chosen if h is not None)
        return found

    def apply(self, conn: Connection, events: Sequence[StoredEvent[Any]]) -> None:
        """Project ``events`` in log order, each run of one type through every projection,
        so that projections touching the same rows see events in the same order live and
        in a rebuild."""
        decode = self.catalogue.decode
        for e in events:
            if e.event is None:
                e.event = decode(e.type, e.data)
        for type_, run in groupby(events, key=lambda e: e.type):
            handlers = self.handlers_for(type_)
            if handlers:
                batch = list(run)
                for handler in handlers:
                    handler(conn, batch)

    def readers_of(self, event_type: str) -> list[str]:
        """Names of the projections with a handler of their own for ``event_type``."""
        return [p.name for p in self.items if event_type in p.handlers]
