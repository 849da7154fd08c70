"""The store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading

import pytest

from postex.bootstrap import Container
from postex.eventlog.chain import ZERO_HASH, ChainState, verify_events
from postex.eventlog.events import NewEvent
from postex.items.app.preadvice import ItemRepository, allocate_ids, pre_advised
from postex.items.domain.items import parse_pre_advice
from postex.kernel.errors import ValidationError
from tests.factories import item_payload, new_customer, new_items


def append(node: Container, site: str, n: int, type_: str = "test.noted.v1") -> None:
    with node.store.write(site) as uow:
        uow.append([NewEvent(type_, {"i": i, "text": "naïve ✓"}) for i in range(n)])


def test_seq_is_gapless_from_one_and_chained(node: Container) -> None:
    """Appends number events 1, 2, 3 … and each links to its predecessor."""
    append(node, "GBLALA", 3)
    append(node, "GBLALA", 2)
    events = list(node.store.read_events("GBLALA"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == ZERO_HASH
    assert verify_events(ChainState("GBLALA"), events) is None
    assert node.store.head("GBLALA") == (5, events[-1].hash)


def test_sites_have_independent_chains(node: Container) -> None:
    """Each site's log starts at seq 1 with a zero prev_hash."""
    append(node, "GBLALA", 2)
    append(node, "GBLGWA", 1)
    assert [e.seq for e in node.store.read_events("GBLGWA")] == [1]
    assert node.store.sites() == ["GBLALA", "GBLGWA"]


def test_a_failed_transaction_writes_nothing(node: Container) -> None:
    """An exception inside the unit of work rolls back events, projections and head."""
    customer = new_customer(node)
    before = node.store.head("GBLALA")
    with pytest.raises(RuntimeError), node.store.write("GBLALA") as uow:
        uow.append([NewEvent("test.noted.v1", {"i": 1})])
        raise RuntimeError("boom")
    assert node.store.head("GBLALA") == before
    assert len(list(node.store.read_events("GBLALA"))) == before[0]
    assert customer.record.id


def test_an_invalid_body_is_refused_before_anything_is_written(node: Container) -> None:
    """A float in a body is refused and the log does not move."""
    with pytest.raises(ValidationError), node.store.write("GBLALA") as uow:
        uow.append([NewEvent("test.noted.v1", {"ok": 1}), NewEvent("test.noted.v1", {"w": 0.5})])
    assert node.store.head("GBLALA")[0] == 0


def test_projections_are_read_your_writes(node: Container) -> None:
    """An item appended in a transaction is visible through its repository at once."""
    customer = new_customer(node)
    advice = parse_pre_advice(item_payload())
    with node.store.write("GBLALA") as uow:
        [item_id] = allocate_ids(uow, [advice], "GB")
        uow.append([pre_advised(node.ctx, uow, customer.record.id, str(item_id), advice)])
        found = uow.repo(ItemRepository).get_any(str(item_id))
        assert found is not None
        assert found.state == "pre_advised"


def test_rebuild_recreates_identical_projections(node: Container) -> None:
    """Dropping every projection and replaying the log gives the same tables."""
    a, b = new_customer(node, "A Ltd"), new_customer(node, "B Ltd")
    new_items(node, a.record.id, 5)
    items = new_items(node, b.record.id, 3, service="parcel", weight_g=5000)
    from postex.items.app.preadvice import cancel_item

    cancel_item(node.ctx, b.record.id, items[0].id)
    live = node.rebuilder.projection_digest()
    assert live["items"][0] == 8
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live


def test_concurrent_writers_never_fork_the_chain(node: Container) -> None:
    """Eight threads appending to one site leave one gapless, valid chain."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                append(node, "GBLALA", 3)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    events = list(node.store.read_events("GBLALA"))
    assert [e.seq for e in events] == list(range(1, 121))
    assert verify_events(ChainState("GBLALA"), events) is None


def test_checkpoints_are_signed_every_n_events(node: Container) -> None:
    """Crossing the checkpoint interval signs the head in the same transaction."""
    node.store.checkpoint_every = 10
    append(node, "GBLALA", 25)
    cps = node.store.checkpoints("GBLALA")
    assert [c.seq for c in cps] == [25]
    append(node, "GBLALA", 3)
    assert node.admin.checkpoint_now("GBLALA") is not None
    assert [c.seq for c in node.store.checkpoints("GBLALA")] == [25, 28]
    assert node.admin.checkpoint_now("GBLALA") is None


def test_read_events_pages_through_long_logs(node: Container) -> None:
    """Reading in small batches yields every event once, in order."""
    append(node, "GBLALA", 23)
    seqs = [e.seq for e in node.store.read_events("GBLALA", after_seq=4, batch=5)]
    assert seqs == list(range(5, 24))
    assert [e.seq for e in node.store.read_events("GBLALA", 0, until_seq=3)] == [1, 2, 3]


def test_stored_rows_are_byte_for_byte_what_append_returned(node: Container) -> None:
    """The batch insert (one statement on SQLite, binary COPY on PostgreSQL) stores exactly
    the bodies, hashes and fields it hashed: bodies of many sizes, multi-byte UTF-8,
    mixed types in one batch, and a batch of one."""
    bodies = [
        {"i": i, "text": "é✓漢🙂" * (i % 7), "pad": "x" * (i * 37 % 3000)} for i in range(300)
    ]
    with node.store.write("GBLALA") as uow:
        first = uow.append([NewEvent("test.noted.v1" if i % 3 else "test.other.v1", b)
                            for i, b in enumerate(bodies)])  # fmt: skip
    with node.store.write("GBLALA") as uow:
        first += uow.append([NewEvent("test.noted.v1", {"i": 300})])
    stored = list(node.store.read_events("GBLALA"))
    assert [
        (e.site, e.seq, e.recorded_at, e.type, e.body, e.prev_hash, e.hash) for e in stored
    ] == [(e.site, e.seq, e.recorded_at, e.type, e.body, e.prev_hash, e.hash) for e in first]
    assert [e.data for e in stored[:300]] == bodies
    assert verify_events(ChainState("GBLALA"), stored) is None


def test_imported_events_keep_their_own_times_and_types(node: Container) -> None:
    """A copy (hub, restore) takes another store's events as they are, time and type."""
    for n in (1, 5, 40):
        append(node, "GBLALA", n, type_=f"test.batch{n}.v1")
    source = list(node.store.read_events("GBLALA"))
    assert len({e.recorded_at for e in source}) == 3
    node.admin.wipe()
    assert node.admin.import_events("GBLALA", source) == len(source)
    assert [(e.recorded_at, e.type, e.body, e.hash) for e in node.store.read_events("GBLALA")] == [
        (e.recorded_at, e.type, e.body, e.hash) for e in source
    ]


def test_a_bad_body_late_in_a_long_append_writes_nothing(node: Container) -> None:
    """On SQLite a long append is written in chunks while the next is encoded: a bad body in
    a later chunk still rolls back every chunk, and the store keeps working."""
    append(node, "GBLALA", 3)
    before = node.store.head("GBLALA")
    events = [NewEvent("test.noted.v1", {"i": i}) for i in range(700)]
    events[600] = NewEvent("test.noted.v1", {"w": 0.5})
    with pytest.raises(ValidationError), node.store.write("GBLALA") as uow:
        uow.append(events)
    assert node.store.head("GBLALA") == before
    assert len(list(node.store.read_events("GBLALA"))) == 3
    append(node, "GBLALA", 700)
    assert verify_events(ChainState("GBLALA"), node.store.read_events("GBLALA")) is None


def test_a_reader_that_stops_early_leaves_the_store_usable(node: Container) -> None:
    """Pages are read ahead on a reader thread; abandoning the iteration mid-log waits for
    the page in flight and leaves nothing locked behind."""
    append(node, "GBLALA", 30)
    rows = node.store.read_rows("GBLALA", batch=7)
    assert [next(rows)[1] for _ in range(9)] == list(range(1, 10))
    rows.close()
    append(node, "GBLALA", 1)
    assert [r[1] for r in node.store.read_rows("GBLALA", after_seq=25, batch=2)] == list(
        range(26, 32)
    )
