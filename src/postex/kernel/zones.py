"""The time zone a place's local time belongs to, from the IANA tz database.

Partner and site events carry their local time with a UTC offset
(``2026-12-04T09:02:00-05:00``) but not the zone. A reader wants "09:02 EST", so the zone
is found among the zones of the place's country (``zone1970.tab`` in the ``tzdata``
package) as the first whose offset at that moment is the event's offset; its abbreviation
is the label. With no match the label is the offset itself, ``UTC−05:00``.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import datetime, timedelta
from importlib.resources import files
from zoneinfo import ZoneInfo


@functools.cache
def country_zones() -> dict[str, tuple[str, ...]]:
    """Country code → its IANA zones, most populous region first (as the table lists them)."""
    found: dict[str, list[str]] = defaultdict(list)
    table = files("tzdata").joinpath("zoneinfo", "zone1970.tab").read_text(encoding="utf-8")
    for line in table.splitlines():
        if not line or line.startswith("#"):
            continue
        codes, _coordinates, zone = line.split("\t")[:3]
        for code in codes.split(","):
            found[code].append(zone)
    return {code: tuple(zones) for code, zones in found.items()}


def offset_label(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def zone_label(country: str | None, local: datetime) -> str:
    """The zone abbreviation of ``local`` (an aware time) in ``country``, e.g. ``EST``,
    ``GMT``, ``CET``; the bare offset when the country has no zone with that offset."""
    offset = local.utcoffset()
    if offset is None:
        return "UTC"
    for zone in country_zones().get((country or "").upper(), ()):
        info = ZoneInfo(zone)
        if local.astimezone(info).utcoffset() == offset:
            name = local.astimezone(info).tzname() or ""
            # Some zones have no abbreviation and print their offset ("+04"): say so plainly.
            return name if name.isalpha() else offset_label(offset)
    return offset_label(offset)
