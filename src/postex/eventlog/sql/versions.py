"""Recording ``saw`` on append: the version of each item an event changes, as read here.

A use case reads the items it changes in its own write transaction; just before the events
are hashed, :func:`stamp_saw` reads those items' versions (``items.version_*``, kept by the
projections) in the same transaction and puts them into each event that changes items and
does not carry ``saw`` yet. Several events of one append see the versions from before the
append (within a log, seq order already orders them), and a version in the writer's own
log is left out for the same reason. See postex.eventlog.saw.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection

from postex.eventlog.saw import Version, saw_body
from postex.eventlog.sql.fast import fetchall

T = TypeVar("T")
_CHUNK = 500


def _changes_items(event: object) -> bool:
    return getattr(type(event), "changed_items", None) is not None and (
        getattr(event, "saw", None) is None
    )


def versions_of(conn: Connection, item_ids: Sequence[str]) -> dict[str, Version]:
    """The known versions of items (items projected before versions were kept have none)."""
    found: dict[str, Version] = {}
    ids = sorted(set(item_ids))
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        marks = ", ".join(["?"] * len(part))
        rows = fetchall(
            conn,
            "SELECT id, version_site, version_seq, version_hash FROM items"
            f" WHERE id IN ({marks}) AND version_site IS NOT NULL",
            part,
        )
        for item, site, seq, digest in rows:
            found[str(item)] = (str(site), int(seq), bytes(digest))
    return found


def stamp_saw(conn: Connection, site: str, events: Sequence[T]) -> Sequence[T]:
    """``events`` of ``site``'s log with ``saw`` recorded in each that changes items (the
    others unchanged). A version in ``site``'s own log is left out: the log's seq order
    already puts the event after it, everywhere."""
    if not any(_changes_items(e) for e in events):
        return events
    wanted = [i for e in events if _changes_items(e) for i in e.changed_items()]  # type: ignore[attr-defined]
    known = versions_of(conn, wanted)
    out: list[T] = []
    for e in events:
        saw: Any = None
        if _changes_items(e):
            mine = {
                i: known[i]
                for i in e.changed_items()  # type: ignore[attr-defined]
                if i in known and known[i][0] != site
            }
            saw = saw_body(mine)
        out.append(e if saw is None else dataclasses.replace(e, saw=saw))  # type: ignore[type-var]
    return out
