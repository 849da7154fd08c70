"""A follower records hearing from a node on its first verified message, then at most once
a second (HEARD_EVERY_S): `/status`'s `last_heard_at` moves with the clock, the copy's seq
with every message."""

from __future__ import annotations

from pathlib import Path

from postex.bootstrap import Container, replication
from postex.network.app.follower import HEARD_EVERY_S, Follower, network_view
from postex.network.app.signatures import events_claim, read_signature, sign_message
from postex.network.app.wire import encode_events
from tests.conftest import make_node
from tests.factories import ManualClock, new_customer, new_items
from tests.network.conftest import trust

A, B = "GBLALA", "GBLGWA"


def _send(follower: Follower, dst: Container, src: Container) -> None:
    """Everything ``src`` wrote since ``dst``'s copy, as one signed message off the stream."""
    events = list(src.store.read_events(A, dst.store.head(A)[0]))
    data = encode_events(A, events)
    sig = read_signature(sign_message(src.signer, events_claim(A, events, data)))
    out = follower.receive_events(A, data, sig)
    assert out is not None and out.fault is None and out.stored == len(events)


def _heard(node: Container) -> tuple[int, str | None]:
    view = network_view(node.store, replication(node).state, B, [A], None)
    (only,) = view["nodes"]
    return only["copy_seq"], only["last_heard_at"]


def test_hearing_from_a_node_is_recorded_at_most_once_a_second(tmp_path: Path) -> None:
    clock = ManualClock()
    a = make_node(tmp_path / A, f"sqlite:///{tmp_path / 'a.db'}", site=A, role="site",
                  clock=clock)  # fmt: skip
    b = make_node(tmp_path / B, f"sqlite:///{tmp_path / 'b.db'}", site=B, role="site",
                  clock=clock)  # fmt: skip
    trust(b, a, A)
    follower = replication(b).follower(b.trusted_keys()).follower  # one, as `serve` runs it
    customer = new_customer(a).record.id
    new_items(a, customer, n=2)
    _send(follower, b, a)
    first_seq, first_at = _heard(b)
    assert first_seq == a.store.head(A)[0] and first_at is not None

    clock.advance(seconds=HEARD_EVERY_S / 2)
    new_items(a, customer, n=1)
    _send(follower, b, a)  # the copy moves on; the time heard is kept
    seq, at = _heard(b)
    assert seq == a.store.head(A)[0] > first_seq and at == first_at

    clock.advance(seconds=HEARD_EVERY_S)
    new_items(a, customer, n=1)
    _send(follower, b, a)
    seq, at = _heard(b)
    assert seq == a.store.head(A)[0] and at is not None and at > first_at
    a.close()
    b.close()
