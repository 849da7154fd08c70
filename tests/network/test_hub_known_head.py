"""The hub (and every follower) remembers the head of each copy it stored last, so the usual
message (the run after it) costs no read of the head. The store stays the authority: when
another writer moved the copy meanwhile, the message is judged against the head read from
the store, with no false alarm."""

from __future__ import annotations

from pathlib import Path

from postex.bootstrap import Container, replication
from postex.eventlog.events import StoredEvent
from postex.network.app.hub import Hub
from tests.conftest import make_node
from tests.factories import new_customer, new_items

A = "GBLALA"


def _site_and_hub(tmp_path: Path) -> tuple[Container, Container, list[StoredEvent]]:
    site = make_node(tmp_path / "site", f"sqlite:///{tmp_path / 'site.db'}", site=A)
    hub = make_node(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub.db'}", site="HUB", role="hub")
    new_items(site, new_customer(site).record.id, n=8)
    return site, hub, list(site.store.read_events(A))


def _quiet(h: Hub) -> None:
    assert [a.kind for a in h.state.alarms()] == []


def test_runs_in_order_are_stored_and_the_copy_equals_the_site(tmp_path: Path) -> None:
    site, hub, events = _site_and_hub(tmp_path)
    h = replication(hub).hub({})
    for i in range(0, len(events), 3):
        out = h.receive_events(A, events[i : i + 3])
        assert out.stored == len(events[i : i + 3]) and out.fault is None
    assert hub.store.head(A) == site.store.head(A)
    _quiet(h)
    site.close()
    hub.close()


def test_a_copy_moved_behind_the_hubs_back_is_read_again(tmp_path: Path) -> None:
    site, hub, events = _site_and_hub(tmp_path)
    h = replication(hub).hub({})
    assert h.receive_events(A, events[:3]).stored == 3
    # Another writer (a second consumer of the same store) takes the next run first.
    hub.admin.import_events(A, events[3:6])
    out = h.receive_events(A, events[3:6])  # the run after the head the hub remembers
    assert (out.stored, out.duplicates, out.fault) == (0, 3, None)
    assert h.receive_events(A, events[6:]).stored == len(events) - 6
    assert hub.store.head(A) == site.store.head(A)
    _quiet(h)
    site.close()
    hub.close()


def test_a_wiped_copy_asks_for_the_whole_log_without_an_alarm(tmp_path: Path) -> None:
    site, hub, events = _site_and_hub(tmp_path)
    h = replication(hub).hub({})
    assert h.receive_events(A, events[:3]).stored == 3
    hub.admin.wipe()  # e.g. a restore started over in the same store
    out = h.receive_events(A, events[3:6])
    assert (out.stored, out.gap_from, out.fault) == (0, 1, None)
    assert h.receive_events(A, events).stored == len(events)
    _quiet(h)
    site.close()
    hub.close()


def test_a_tampered_run_after_the_known_head_is_still_a_broken_chain(tmp_path: Path) -> None:
    site, hub, events = _site_and_hub(tmp_path)
    h = replication(hub).hub({})
    assert h.receive_events(A, events[:3]).stored == 3
    e = events[4]
    forged = StoredEvent(e.site, e.seq, e.recorded_at, e.type, e.body + b" ", e.prev_hash, e.hash)
    out = h.receive_events(A, [events[3], forged, events[5]])
    assert out.stored == 1 and out.fault is not None and out.fault.seq == e.seq
    assert [a.kind for a in h.state.alarms()] == ["broken-chain"]
    assert hub.store.head(A)[0] == 4
    site.close()
    hub.close()
