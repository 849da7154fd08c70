"""An item's tracking timeline as the items projection keeps it (``tracking_events``).

The items feature writes the first rows (PRE, CAN) and owns the table; the site, hold and
partner projections add theirs, and public tracking reads them through this row type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrackingRow:
    item_id: str
    code: str
    occurred_at: str
    occurred_utc: str
    office: str | None
    reason: str | None
    source: str
    site: str
    seq: int
