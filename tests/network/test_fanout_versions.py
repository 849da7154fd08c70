"""One item, several logs: every change records the version of the item it saw, and a
follower projects an event only once that version is applied there (docs/log-format.md,
"Rules across logs"). Without a transport: each node follows with the follower's checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from postex.bootstrap import Container, replication
from postex.eventlog.events import NewEvent
from postex.eventlog.sql.admin import execute_raw
from postex.items.app.preadvice import cancel_item
from postex.network.app.hub import PROJECTION_FAILED, SAW_MISMATCH
from postex.network.app.integrity import verify_store
from postex.network.app.status import integrity_overview
from postex.sites.app.acceptance import Scan, accept
from tests.conftest import make_node
from tests.factories import new_customer, new_items, staff

A, B, C, D = "GBLALA", "GBLGWA", "GBBHXA", "GBCVTA"


def _site(tmp_path: Path, code: str, url: str | None = None) -> Container:
    return make_node(tmp_path / code, url or f"sqlite:///{tmp_path / f'{code}.db'}", site=code,
                     role="site")  # fmt: skip


def _store_url(request: pytest.FixtureRequest, tmp_path: Path, code: str) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_hub_url"))
    return f"sqlite:///{tmp_path / f'{code}.db'}"


store = pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])


@store
def follower_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store of the node under test (the other nodes are on SQLite)."""
    return _store_url(request, tmp_path, C)


def _feed(dst: Container, src: Container, site: str, until: int | None = None) -> None:
    """``dst`` follows ``src``'s log up to ``until`` (default: its head)."""
    events = list(src.store.read_events(site, dst.store.head(site)[0], until))
    out = replication(dst).follower(dst.trusted_keys()).follower.hub.receive_events(site, events)
    assert out.fault is None and out.stored == len(events)


def _rows(node: Container, sql: str, item_id: str) -> list[tuple[object, ...]]:
    if node.engine.dialect.name == "postgresql":
        sql = sql.replace("?", "%s")
    return execute_raw(node.engine, sql, [item_id])


def _item(node: Container, item_id: str) -> tuple[object, ...]:
    rows = _rows(
        node,
        "SELECT state, held_from, updated_at, version_site, version_seq, version_hash"
        " FROM items WHERE id = ?",
        item_id,
    )
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in rows[0]) if rows else ()


def _tables(node: Container, item_id: str) -> tuple[object, ...]:
    tracking = _rows(
        node, "SELECT site, seq, code FROM tracking_events WHERE item_id = ? ORDER BY site, seq",
        item_id,
    )  # fmt: skip
    handling = _rows(node, "SELECT site, measured_g FROM item_handling WHERE item_id = ?", item_id)
    return _item(node, item_id), tuple(map(tuple, tracking)), tuple(map(tuple, handling))


def _waiting(node: Container) -> list[dict[str, object]]:
    return [w.to_json() for w in replication(node).waiting()]


def _last(node: Container, site: str, type_: str) -> tuple[int, bytes, dict[str, object]]:
    e = [e for e in node.store.read_events(site) if e.type == type_][-1]
    return e.seq, e.hash, e.data


def test_a_change_records_the_version_it_saw(tmp_path: Path) -> None:
    """Gatwick's acceptance of an item pre-advised at Heathrow saw the pre-advice; the
    item's version at both is then the acceptance."""
    a, b = _site(tmp_path, A), _site(tmp_path, B)
    item = new_items(a, new_customer(a).record.id, n=1)[0]
    _feed(b, a, A)
    advice_seq, advice_hash, _ = _last(a, A, "item.pre_advised.v1")
    assert _item(b, item.id)[3:] == (A, advice_seq, advice_hash)
    accept(b.site_ops, staff(b, "clerk", site=B).principal, B, [Scan(item.id, item.weight_g)])
    _, _, body = _last(b, B, "item.accepted.v1")
    assert body["saw"] == {item.id: [A, advice_seq, advice_hash.hex()]}
    last = [e for e in b.store.read_events(B) if item.id in e.data.get("saw", {})][-1]
    _feed(a, b, B)
    assert _item(a, item.id)[3:] == _item(b, item.id)[3:] == (B, last.seq, last.hash)
    a.close()
    b.close()


def test_an_acceptance_waits_for_the_pre_advice_it_saw(tmp_path: Path, follower_url: str) -> None:
    """Rule 6's case: a site trusts the pre-advising node only after it received the
    acceptance made elsewhere. The acceptance is stored, not projected, and the log of its
    node waits (status says on what); when the pre-advice arrives, the item is accepted."""
    a, b = _site(tmp_path, A), _site(tmp_path, B)
    c = _site(tmp_path, C, follower_url)
    customer = new_customer(a)
    item, other = new_items(a, customer.record.id, n=2)
    _feed(b, a, A)
    clerk = staff(b, "clerk", site=B).principal
    accept(b.site_ops, clerk, B, [Scan(item.id, item.weight_g)])
    accept(b.site_ops, clerk, B, [Scan(other.id, other.weight_g)])
    advice_seq, advice_hash, _ = next(
        (e.seq, e.hash, e.data) for e in a.store.read_events(A) if e.data.get("item_id") == item.id
    )
    _feed(c, b, B)  # Birmingham follows Gatwick first
    assert c.store.head(B) == b.store.head(B)  # the copy is stored, verified
    assert _tables(c, item.id) == ((), (), ())  # nothing of it projected
    first_accept = next(e.seq for e in b.store.read_events(B) if e.type == "item.accepted.v1")
    (wait,) = _waiting(c)
    assert wait["log"] == B and wait["projected_seq"] == first_accept - 1
    assert wait["waits_for"] == {"log": A, "seq": advice_seq, "hash": advice_hash.hex()}
    assert wait["hash_differs"] is False
    rep = replication(c)
    view = integrity_overview(c.store, rep.state, "site", C, rep.now(), rep.waiting())
    assert [s["waiting"] is not None for s in view["sites"] if s["site"] == B] == [True]
    _feed(c, a, A)  # then Heathrow, with the pre-advice: Gatwick's log applies
    assert _waiting(c) == []
    for it in (item, other):
        assert _tables(c, it.id) == _tables(b, it.id)
        assert _item(c, it.id)[0] == "accepted"
    assert rep.state.alarms() == []
    reports = verify_store(c.store, c.trusted_keys(), None, None, c.authority)
    assert sorted(r.site for r in reports) == [A, B] and all(r.ok for r in reports)
    live = _tables(c, item.id), _tables(c, other.id)
    c.rebuilder.rebuild()  # rebuild equals live
    assert (_tables(c, item.id), _tables(c, other.id)) == live
    assert _waiting(c) == []
    for node in (a, b, c):
        node.close()


def test_a_saw_hash_that_differs_raises_an_alarm_and_its_log_waits(
    tmp_path: Path, follower_url: str
) -> None:
    """An acceptance whose ``saw`` names the pre-advice with another hash: an alarm, and
    nothing of its log from there on is applied (not even a later, correct event)."""
    a, b = _site(tmp_path, A), _site(tmp_path, B)
    c = _site(tmp_path, C, follower_url)
    item, other = new_items(a, new_customer(a).record.id, n=2)
    _feed(b, a, A)
    _feed(c, a, A)
    advice_seq = next(e.seq for e in a.store.read_events(A) if e.data.get("item_id") == item.id)
    wrong = {item.id: [A, advice_seq, "00" * 32]}
    forged = {"item_id": item.id, "site": B, "weight_g": item.weight_g,
              "declared_g": item.weight_g, "saw": wrong}  # fmt: skip
    with b.store.write(B) as uow:
        uow.append([NewEvent("item.accepted.v1", forged)])
    accept(b.site_ops, staff(b, "clerk", site=B).principal, B, [Scan(other.id, other.weight_g)])
    before = _tables(c, item.id), _tables(c, other.id)
    _feed(c, b, B)
    assert c.store.head(B) == b.store.head(B)  # stored all the same
    assert (_tables(c, item.id), _tables(c, other.id)) == before  # nothing applied
    (wait,) = _waiting(c)
    assert wait["hash_differs"] is True and wait["waits_for"]["seq"] == advice_seq
    alarms = [al for al in replication(c).state.alarms() if al.kind == SAW_MISMATCH]
    assert [(al.site, al.kind) for al in alarms] == [(B, SAW_MISMATCH)]
    assert "saw" in alarms[0].detail and A in alarms[0].detail
    _feed(c, a, A)  # more of Heathrow changes nothing: the hash still differs
    assert (_tables(c, item.id), _tables(c, other.id)) == before
    c.rebuilder.rebuild()  # nor does a rebuild apply it
    assert (_tables(c, item.id), _tables(c, other.id)) == before
    assert _waiting(c)[0]["hash_differs"] is True
    for node in (a, b, c):
        node.close()


def test_the_cancel_race_settles_the_same_on_every_follower(
    tmp_path: Path, follower_url: str
) -> None:
    """A cancel at Heathrow races an acceptance at Gatwick (neither saw the other).
    Birmingham gets the acceptance before the cancel, Coventry the cancel first (and the
    acceptance before the pre-advice it saw): identical item tables, the scan wins."""
    a, b = _site(tmp_path, A), _site(tmp_path, B)
    c, d = _site(tmp_path, C, follower_url), _site(tmp_path, D)
    customer = new_customer(a)
    item = new_items(a, customer.record.id, n=1)[0]
    advised = a.store.head(A)[0]
    _feed(b, a, A)
    cancel_item(a.ctx, customer.record.id, item.id)
    accept(b.site_ops, staff(b, "clerk", site=B).principal, B, [Scan(item.id, item.weight_g)])
    _feed(c, a, A, until=advised)  # Birmingham: pre-advice, acceptance, then the cancel
    _feed(c, b, B)
    _feed(c, a, A)
    _feed(d, b, B)  # Coventry: the acceptance waits for the pre-advice ...
    assert _tables(d, item.id) == ((), (), ())
    _feed(d, a, A)  # ... which comes with the cancel
    for node in (a, b):
        _feed(node, b if node is a else a, B if node is a else A)
    live = _tables(c, item.id)
    assert live[0][0] == "accepted"
    assert [r[2] for r in live[1]] == ["EMA", "EMB"]  # no CAN row
    for node in (a, b, d):
        assert _tables(node, item.id) == live
    for node in (c, d):
        assert _waiting(node) == []
        node.rebuilder.rebuild()
        assert _tables(node, item.id) == live
    for node in (a, b, c, d):
        node.close()


def test_a_released_log_that_a_projection_refuses_keeps_waiting(
    tmp_path: Path, follower_url: str
) -> None:
    """Gatwick's log waits at an acceptance; behind it, a pre-advice of an id Heathrow also
    issued (a shared serial slot). When Heathrow's log arrives it is projected; releasing
    Gatwick's log fails on the duplicate id, so Gatwick's log keeps waiting, unapplied."""
    a, b = _site(tmp_path, A), _site(tmp_path, B)
    c = _site(tmp_path, C, follower_url)
    item, twin = new_items(a, new_customer(a).record.id, n=2)
    first = next(e.seq for e in a.store.read_events(A) if e.data.get("item_id") == item.id)
    _feed(b, a, A, until=first)  # Gatwick has the first item only
    accept(b.site_ops, staff(b, "clerk", site=B).principal, B, [Scan(item.id, item.weight_g)])
    advice = next(e for e in a.store.read_events(A) if e.data.get("item_id") == twin.id)
    with b.store.write(B) as uow:
        uow.append([NewEvent(advice.type, dict(advice.data))])
    _feed(c, b, B)
    assert _waiting(c)[0]["log"] == B
    _feed(c, a, A)  # stored and projected; Gatwick's log is released, then refused
    assert _item(c, twin.id)[3:5] == (A, advice.seq)  # Heathrow's pre-advice, not Gatwick's
    assert _item(c, item.id)[0] == "pre_advised"  # Gatwick's acceptance not applied either
    (wait,) = _waiting(c)
    assert wait["log"] == B and wait["hash_differs"] is False
    assert c.store.head(A) == a.store.head(A) and c.store.head(B) == b.store.head(B)
    for node in (a, b, c):
        node.close()


def test_the_hub_applies_an_acceptance_after_the_pre_advice_it_saw(
    tmp_path: Path, follower_url: str
) -> None:
    """The hub's copies wait the same way (hub mode), and its rebuild, in arrival order,
    gives the tables it built live."""
    a, b = _site(tmp_path, A), _site(tmp_path, B)
    hub = make_node(tmp_path / "hub", follower_url, site="HUB", role="hub")
    item = new_items(a, new_customer(a).record.id, n=1)[0]
    _feed(b, a, A)
    accept(b.site_ops, staff(b, "clerk", site=B).principal, B, [Scan(item.id, item.weight_g)])
    rep = replication(hub)
    for node, site in ((b, B), (a, A)):  # Gatwick's copy arrives first
        out = rep.hub(hub.trusted_keys()).receive_events(site, list(node.store.read_events(site)))
        assert out.fault is None
        if site == B:
            assert _tables(hub, item.id) == ((), (), ())
            assert [w["log"] for w in _waiting(hub)] == [B]
    live = _tables(hub, item.id)
    assert live == _tables(b, item.id) and live[0][0] == "accepted"
    assert _waiting(hub) == [] and rep.state.alarms() == []
    rep.rebuild_hub()
    assert _tables(hub, item.id) == live
    for node in (a, b, hub):
        node.close()


def test_a_restored_sites_own_log_waits_and_what_it_writes_meanwhile_applies_once(
    tmp_path: Path, follower_url: str
) -> None:
    """A site restored from its own log alone (the hub's copy) holds an acceptance of an
    item pre-advised elsewhere: its own log waits for that pre-advice. What the site writes
    meanwhile is projected as it is written (a use case reads back what it wrote); when the
    other log arrives, the waiting part applies and what was written live is not applied
    twice."""
    a, b = _site(tmp_path, A), _site(tmp_path, B)
    item = new_items(a, new_customer(a).record.id, n=1)[0]
    _feed(b, a, A)
    accept(b.site_ops, staff(b, "clerk", site=B).principal, B, [Scan(item.id, item.weight_g)])
    restored = make_node(tmp_path / "restored", follower_url, site=B, role="site")
    own = list(b.store.read_events(B))
    restored.admin.import_events(B, own)  # the restore: Gatwick's log, Heathrow's not yet
    assert [w["log"] for w in _waiting(restored)] == [B]
    assert _item(restored, item.id) == ()
    staff(restored, "clerk", site=B, name="clerk.after")  # written while the log waits
    assert _rows(restored, "SELECT username FROM staff_users WHERE username = ?",
                 "clerk.after") == [("clerk.after",)]  # fmt: skip
    assert restored.store.head(B)[0] > own[-1].seq
    _feed(restored, a, A)
    assert _waiting(restored) == []
    assert _item(restored, item.id)[0] == "accepted"
    assert _rows(restored, "SELECT username FROM staff_users WHERE username = ?",
                 "clerk.after") == [("clerk.after",)]  # fmt: skip
    # Released without a refusal: the live part was not projected again (audit_log's
    # (site, seq) is unique, so a second projection would have kept the log waiting).
    for node in (a, b, restored):
        node.close()


def test_a_released_log_that_a_projection_refuses_keeps_waiting_with_an_alarm(
    tmp_path: Path, follower_url: str
) -> None:
    """Gatwick's log waits at Birmingham for Heathrow's pre-advice; behind the acceptance,
    Gatwick created a user whose name Birmingham has given to another. When the pre-advice
    arrives, the release is refused: Heathrow's run stays applied, Gatwick's log keeps
    waiting, and an alarm says so (no longer only a warning in the log)."""
    a, b = _site(tmp_path, A), _site(tmp_path, B)
    c = _site(tmp_path, C, follower_url)
    item = new_items(a, new_customer(a).record.id, n=1)[0]
    _feed(b, a, A)
    accept(b.site_ops, staff(b, "clerk", site=B).principal, B, [Scan(item.id, item.weight_g)])
    staff(b, "supervisor", site=B, name="same.name")
    staff(c, "supervisor", site=C, name="same.name")  # Birmingham's own, first
    _feed(c, b, B)
    (wait,) = _waiting(c)
    _feed(c, a, A)  # the pre-advice: Gatwick's log is released, then refused
    assert _item(c, item.id)[0] == "pre_advised"  # Heathrow's run is applied
    assert [w["log"] for w in _waiting(c)] == [B] and _waiting(c)[0] == wait
    alarms = [al for al in replication(c).state.alarms() if al.kind == PROJECTION_FAILED]
    assert [(al.site, al.seq) for al in alarms] == [(B, wait["projected_seq"] + 1)]
    assert "refused" in alarms[0].detail and "same.name" not in alarms[0].detail
    for node in (a, b, c):
        node.close()
