"""The item's version: the last event applied to it here (log, seq, hash).

Kept in ``items`` (version_site, version_seq, version_hash) for every event that changes
items: the pre-advice and an effective cancel set it in the items projection itself; every
other type that changes items (its record has ``changed_items``, whatever feature declares
it) sets it here, after the projections that change the items ran. A change written on
this node records the version its use case read as ``saw`` (postex.eventlog.saw).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection

from postex.eventlog.events import StoredEvent
from postex.eventlog.sql.projections import projection
from postex.items.events import ItemCancelled, ItemPreAdvised
from postex.items.sql.core import set_versions

versions_p = projection("item_versions")  # no table of its own: columns of ``items``

# Rules of other features under which a change of an item has no effect here, so it sets no
# version either (else the version would depend on arrival order): each answers, for a batch
# of events of one type, which (log, seq, item) it leaves unchanged. The failover listing
# registers one (postex.sites.sql.failover: a lost log's late change of an item moved away
# from it, and a concurrent failover's listing that is not in force).
Ineffective = Callable[[Connection, Sequence[StoredEvent[Any]]], set[tuple[str, int, str]]]
INEFFECTIVE: list[Ineffective] = []


@versions_p.on(ItemPreAdvised, ItemCancelled)
def _set_by_items(conn: Connection, events: Sequence[StoredEvent[Any]]) -> None:
    """Set by the items projection (the pre-advice inserts it; a refused cancel sets none)."""


def _changed(conn: Connection, events: Sequence[StoredEvent[Any]]) -> None:
    if getattr(type(events[0].event), "changed_items", None) is None:
        return
    rows = [(e.site, e.seq, e.hash, item) for e in events for item in e.event.changed_items()]
    skip: set[tuple[str, int, str]] = set()
    for rule in INEFFECTIVE:
        skip |= rule(conn, events)
    set_versions(conn, [r for r in rows if (r[0], r[1], r[3]) not in skip] if skip else rows)


versions_p.otherwise = _changed
