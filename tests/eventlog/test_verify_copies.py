"""A copy of another node's log whose checkpoint came before its events is behind, not
faulty; the same gap in a node's own log, or past a checkpoint the hub countersigned
(so once held), is a fault."""

from __future__ import annotations

from postex.bootstrap import Container
from postex.eventlog.events import Checkpoint, EventRow
from postex.eventlog.verify import verify_site_rows
from postex.network.app.integrity import behind
from tests.eventlog.test_tamper import SITE, populated  # noqa: F401  # a fixture


def _cut(node: Container, keep: int) -> tuple[list[EventRow], list[Checkpoint]]:
    """The log up to ``keep``, as a copy that has not received the rest yet, and every
    checkpoint (the newest covering the events not there)."""
    rows = [r for r in node.store.read_rows(SITE) if r[1] <= keep]
    return rows, list(node.store.checkpoints(SITE))


def test_a_copy_short_of_its_newest_checkpoint_is_behind(populated: Container) -> None:  # noqa: F811
    head = populated.store.head(SITE)[0]
    rows, cps = _cut(populated, head - 6)
    newest = max(cp.seq for cp in cps)
    keys = populated.trusted_keys()

    own = verify_site_rows(SITE, rows, cps, keys)
    assert not own.ok and own.first_fault is not None
    assert own.first_fault.seq == head - 5 and "checkpoint covers" in own.first_fault.reason

    copy = verify_site_rows(SITE, rows, cps, keys, copy=True)
    assert copy.ok and copy.head_seq == head - 6 and copy.behind_to == newest
    assert f"covers seq {newest}" in behind(copy) and behind(own) == ""

    countersigned = verify_site_rows(SITE, rows, cps, keys, copy=True, witnessed={newest})
    assert not countersigned.ok and countersigned.first_fault is not None
    assert countersigned.first_fault.seq == head - 5


def test_a_copy_that_holds_every_event_is_not_behind(populated: Container) -> None:  # noqa: F811
    rows, cps = _cut(populated, populated.store.head(SITE)[0])
    report = verify_site_rows(SITE, rows, cps, populated.trusted_keys(), copy=True)
    assert report.ok and report.behind_to == 0


def test_a_changed_event_in_a_copy_is_still_a_fault(populated: Container) -> None:  # noqa: F811
    head = populated.store.head(SITE)[0]
    rows, cps = _cut(populated, head - 6)
    r = rows[3]
    rows[3] = (r[0], r[1], r[2], r[3], r[4] + b"x", r[5], r[6])  # the body changed
    report = verify_site_rows(SITE, rows, cps, populated.trusted_keys(), copy=True)
    assert not report.ok and report.first_fault is not None and report.first_fault.seq == 4
