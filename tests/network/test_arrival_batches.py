"""Several events messages fetched at once: each one's signature is checked, then the runs
that follow on are received as one (one verification and one transaction, not one per
message), so a node that fell behind catches up faster the further behind it is. What is
stored, refused, alarmed or asked again is what one message at a time gave."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from postex.bootstrap import Container, replication
from postex.eventlog.events import StoredEvent
from postex.network.app.signatures import events_claim, sign_message
from postex.network.app.wire import encode_events
from postex.network.nats.batches import grouped
from tests.conftest import make_node
from tests.factories import new_customer, new_items
from tests.network.conftest import trust

A, B = "GBLALA", "GBLGWA"


@dataclass
class Message:  # the fields the handlers read of a fetched JetStream message
    subject: str
    data: bytes
    headers: dict[str, str] | None


def _site(tmp_path: Path, code: str) -> Container:
    return make_node(tmp_path / code, f"sqlite:///{tmp_path / f'{code}.db'}", site=code,
                     role="site", nats_prefix="pxb")  # fmt: skip


def _message(src: Container, events: list[StoredEvent], signer: Container | None = None) -> Message:
    data = encode_events(A, events)
    headers = sign_message((signer or src).signer, events_claim(A, events, data))
    return Message(f"pxb.events.{A}", data, headers)


def test_fetched_messages_group_by_kind_and_node_in_order() -> None:
    subjects = ["events.A", "events.A", "keys.A", "events.A", "events.B", "events.B", "events.A"]
    msgs = [Message(f"px.{s}", b"", None) for s in subjects]
    groups = [(kind, node, len(ms)) for kind, node, ms in grouped("px", msgs)]
    assert groups == [("events", "A", 2), ("keys", "A", 1), ("events", "A", 1),
                      ("events", "B", 2), ("events", "A", 1)]  # fmt: skip


def test_runs_that_follow_on_are_stored_in_one_transaction_at_the_hub(tmp_path: Path) -> None:
    site = _site(tmp_path, A)
    hub = make_node(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub.db'}", site="HUB", role="hub")
    new_items(site, new_customer(site).record.id, n=8)
    events = list(site.store.read_events(A))
    h = replication(hub).hub({})
    out = h.receive_runs(A, [events[:3], events[3:6], events[6:]])
    assert (out.stored, out.fault, out.gap_from) == (len(events), None, None)
    assert [e.seq for e in out.events] == [e.seq for e in events]
    with hub.engine.connect() as conn:  # the hub journals each stored run: one
        arrivals = conn.execute(text("SELECT first_seq, last_seq FROM hub_arrivals")).all()
    assert [tuple(r) for r in arrivals] == [(1, len(events))]
    site.close()
    hub.close()


def test_a_refused_message_in_a_batch_leaves_a_gap_and_the_rest_waits(tmp_path: Path) -> None:
    a, b, stranger = _site(tmp_path, A), _site(tmp_path, B), _site(tmp_path / "x", A)
    trust(b, a, A)
    new_items(a, new_customer(a).record.id, n=9)
    events = list(a.store.read_events(A))
    follower = replication(b).follower(b.trusted_keys())
    third = len(events) // 3
    batch = [_message(a, events[:third]), _message(a, events[third : 2 * third], stranger),
             _message(a, events[2 * third :])]  # fmt: skip
    follower._handle_events(A, batch)
    assert b.store.head(A)[0] == third  # the forged message stops the copy there
    assert follower._gaps == {A: third + 1}  # and the rest is asked again
    kinds = [al.kind for al in replication(b).state.alarms()]
    assert kinds == ["bad-message-signature"], kinds
    follower._handle_events(A, [_message(a, events[third:])])  # the replay
    assert b.store.head(A) == a.store.head(A)
    for node in (a, b, stranger):
        node.close()
