"""Refused messages are counted per source over a sliding window into one alarm text."""

from __future__ import annotations

import pytest

from postex.network.app import refusals
from postex.network.app.refusals import UNKNOWN_PUBLISHER, UNKNOWN_SOURCE, RefusalAlarms
from tests.factories import ManualClock


class Alarms:
    """The alarm table's upsert, in memory: one open alarm per (site, kind)."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str], str] = {}
        self.writes = 0

    def upsert_alarm(self, site: str, kind: str, detail: str, at: str) -> int:
        self.open[site, kind] = detail
        self.writes += 1
        return 1


def test_counts_slide_with_the_window_and_writes_are_throttled() -> None:
    """Many refusals in one second: one write, then the count on flush; ten minutes on,
    only the newer ones count."""
    t = [1000.0]
    alarms = Alarms()
    r = RefusalAlarms(alarms, ManualClock(), monotonic=lambda: t[0])
    for i in range(300):
        r.refuse(UNKNOWN_SOURCE, UNKNOWN_PUBLISHER, f"X{i % 3}", "events on X: no key")
    assert alarms.writes == 1
    r.flush()
    detail = alarms.open[UNKNOWN_SOURCE, UNKNOWN_PUBLISHER]
    assert detail.startswith("unknown sites: 300 message(s) naming 3 site(s) in the last 10 min")
    assert "(X0, X1, X2)" in detail
    t[0] += 400
    r.refuse(UNKNOWN_SOURCE, UNKNOWN_PUBLISHER, "Y", "events on Y: no key")
    t[0] += 300  # the first 300 are now older than the window
    r.refuse(UNKNOWN_SOURCE, UNKNOWN_PUBLISHER, "Z", "events on Z: no key")
    assert alarms.open[UNKNOWN_SOURCE, UNKNOWN_PUBLISHER].startswith(
        "unknown sites: 2 message(s) naming 2 site(s)"
    )
    assert len(alarms.open) == 1


def test_invented_names_are_remembered_only_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood inventing a new site per message keeps a bounded set of names."""
    t = [0.0]
    alarms = Alarms()
    r = RefusalAlarms(alarms, ManualClock(), monotonic=lambda: t[0])
    monkeypatch.setattr(refusals, "MAX_NAMES", 50)
    for i in range(120):
        r.refuse(UNKNOWN_SOURCE, UNKNOWN_PUBLISHER, f"S{i:03}", "no key")
    r.flush()
    assert (
        "120 message(s) naming more than 50 site(s)"
        in alarms.open[UNKNOWN_SOURCE, UNKNOWN_PUBLISHER]
    )
    assert len(r._sources[UNKNOWN_SOURCE, UNKNOWN_PUBLISHER].names) == 50
