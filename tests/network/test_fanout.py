"""Fan-out: every site follows every other node's log over real JetStream, verified as the
hub verifies, and applies it (pre-advice, holds, data keys); a cut-off site keeps what it knew.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container, replication
from postex.eventlog.events import NewEvent
from postex.incidents.app.holds import confirm_hold, place_hold
from postex.items.app.preadvice import get_item
from postex.kernel.errors import HeldError, ValidationError
from postex.network.app.integrity import verify_store
from postex.network.app.signatures import events_claim, sign_message
from postex.network.app.status import integrity_overview
from postex.network.app.wire import Subjects, encode_events
from postex.network.cli.ransomware import Loops
from postex.server import create_app
from postex.sites.app.acceptance import Scan, accept
from tests.conftest import make_node
from tests.factories import new_customer, new_items, staff
from tests.network.conftest import trust, wait_until

pytestmark = pytest.mark.nats

A, B = "GBLALA", "GBLGWA"


def _site(tmp_path: Path, code: str, nats_url: str, prefix: str) -> Container:
    return make_node(
        tmp_path / code, f"sqlite:///{tmp_path / f'{code}.db'}", site=code, role="site",
        nats_url=nats_url, nats_prefix=prefix,
    )  # fmt: skip


def _network(tmp_path: Path, nats_url: str, prefix: str) -> tuple[Container, Container]:
    """Two sites of one operator: one network KEK (kek.json copied before B's first start,
    as docs/operations.md says) and each other's signing key trusted."""
    a = _site(tmp_path, A, nats_url, prefix)
    (tmp_path / B / "keys").mkdir(parents=True, mode=0o700)
    shutil.copy(a.settings.keys_dir / "kek.json", tmp_path / B / "keys" / "kek.json")
    b = _site(tmp_path, B, nats_url, prefix)
    assert b.settings.keys_dir == tmp_path / B / "keys"
    trust(a, b, B)
    trust(b, a, A)
    return a, b


def _run(loops: Loops, node: Container) -> tuple[asyncio.Event, asyncio.Event]:
    """The node's publisher and follower, each stoppable on its own."""
    rep = replication(node)
    return loops.start(rep.publisher().run), loops.start(rep.follower(node.trusted_keys()).run)


def _caught_up(follower: Container, origin: Container, site: str) -> bool:
    return bool(follower.store.head(site) == origin.store.head(site))


def _state(node: Container, item_id: str) -> str:
    from postex.eventlog.sql.admin import execute_raw

    return str(execute_raw(node.engine, "SELECT state FROM items WHERE id = ?", [item_id])[0][0])


def test_preadvised_at_one_site_is_accepted_at_another(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """Pre-advice at Heathrow reaches Gatwick verified, with its data key: Gatwick accepts
    the item and opens its personal data; the acceptance flows back to Heathrow."""
    a, b = _network(tmp_path, nats_url, prefix)
    customer = new_customer(a)
    items = new_items(a, customer.record.id, n=3)
    _run(loops, a)
    _run(loops, b)
    wait_until(lambda: _caught_up(b, a, A), what="Gatwick to follow Heathrow's log")
    clerk = staff(b, "clerk", site=B)
    done = accept(b.site_ops, clerk.principal, B, [Scan(i.id, i.weight_g) for i in items[:2]])
    assert [d.item_id for d in done] == [i.id for i in items[:2]]
    wait_until(lambda: b.admin.export_data_keys() != [], what="the customer's data key")
    view = get_item(b.ctx, customer.record.id, items[0].id)
    assert view.personal is not None  # sealed under the customer's key, opened at Gatwick
    wait_until(lambda: _caught_up(a, b, B), what="Heathrow to follow Gatwick's log")
    assert _state(a, items[0].id) == "accepted" and _state(a, items[2].id) == "pre_advised"
    # Nothing was witnessed or alarmed by a follower; each keeps only the other's copy.
    for node in (a, b):
        rep = replication(node)
        assert rep.state.alarms() == []
        assert rep.state.witnesses(A) == [] and rep.state.witnesses(B) == []
    loops.close()
    # Both logs verify on both sites, and a rebuild gives the tables the live run gave.
    for node in (a, b):
        reports = verify_store(node.store, node.trusted_keys(), None, None, node.authority)
        assert sorted(r.site for r in reports) == [A, B] and all(r.ok for r in reports)
        live = node.rebuilder.projection_digest()
        node.rebuilder.rebuild()
        assert node.rebuilder.projection_digest() == live


def test_a_hold_placed_at_one_site_applies_at_another_and_is_listed(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """A US export hold placed and confirmed at Heathrow: Gatwick refuses a US item that
    was pre-advised at Heathrow, and its /api/v1/advisories lists the notice."""
    a, b = _network(tmp_path, nats_url, prefix)
    customer = new_customer(a)
    items = new_items(a, customer.record.id, n=2)
    _run(loops, a)
    _run(loops, b)
    lead, second = staff(a, "ops", site=None, name="lead"), staff(a, "ops", site=None, name="two")
    hold = place_hold(a.ctx, lead.principal, {
        "scope": {"destinations": ["US"]}, "reason": "US customs outage",
        "advisory": "Exports to the United States are paused.",
    })  # fmt: skip
    confirm_hold(a.ctx, second.principal, hold.id)
    wait_until(lambda: _caught_up(b, a, A), what="Gatwick to follow Heathrow's log")
    clerk = staff(b, "clerk", site=B)
    with pytest.raises(HeldError):
        accept(b.site_ops, clerk.principal, B, [Scan(items[0].id, items[0].weight_g)])
    assert _state(b, items[0].id) == "pre_advised"  # refused at the counter, nothing written
    with TestClient(create_app(b)) as client:
        listed = client.get("/api/v1/advisories").json()
    assert [x["text"] for x in listed] == ["Exports to the United States are paused."], listed
    # An item pre-advised at Gatwick itself after the hold is refused there too.
    own = new_customer(b)
    with pytest.raises(HeldError):
        mine = new_items(b, own.record.id, n=1)[0]
        accept(b.site_ops, clerk.principal, B, [Scan(mine.id, mine.weight_g)])
    loops.close()


async def _publish(url: str, subjects: Subjects, site: str, data: bytes, hdrs: Any) -> None:
    from postex.network.nats.jetstream import connect, ensure_stream

    nc = await connect(url, "forger")
    try:
        await ensure_stream(nc, subjects)
        await nc.jetstream().publish(subjects.events(site), data, headers=hdrs or None)
    finally:
        await nc.close()


def test_forged_messages_for_a_followed_log_are_refused_with_an_alarm(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """A perfectly linked chain for Heathrow, unsigned or signed by a key not Heathrow's, is
    refused at Gatwick: an alarm, nothing stored, nothing projected."""
    _a, b = _network(tmp_path, nats_url, prefix)
    forger = _site(tmp_path / "evil", A, nats_url, prefix + "x")  # its own keys, same code
    with forger.store.write(A) as uow:
        uow.append([NewEvent("test.thing.v1", {"n": i}) for i in range(3)])
    events = list(forger.store.read_events(A))
    data = encode_events(A, events)
    _run(loops, b)
    subjects = Subjects(prefix)
    asyncio.run(_publish(nats_url, subjects, A, data, None))
    signed = sign_message(forger.signer, events_claim(A, events, data))
    asyncio.run(_publish(nats_url, subjects, A, data, signed))
    rep = replication(b)
    wait_until(lambda: len(rep.state.alarms()) == 2, what="two alarms at Gatwick")
    kinds = sorted(x.kind for x in rep.state.alarms())
    assert kinds == ["bad-message-signature", "unsigned-message"]
    assert {x.site for x in rep.state.alarms()} == {A}
    assert b.store.head(A)[0] == 0
    forger.close()
    loops.close()


def test_a_site_cut_off_keeps_accepting_what_it_knew_and_says_since_when(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """Gatwick's follower stops (its link is cut): items pre-advised before the cut are
    accepted there; later ones are unknown; the overview says when it last heard Heathrow."""
    a, b = _network(tmp_path, nats_url, prefix)
    customer = new_customer(a)
    before = new_items(a, customer.record.id, n=2)
    _run(loops, a)
    _pub_b, follow_b = _run(loops, b)
    wait_until(lambda: _caught_up(b, a, A), what="Gatwick to follow Heathrow's log")
    loops.stop_one(follow_b)
    after = new_items(a, customer.record.id, n=1)
    clerk = staff(b, "clerk", site=B)
    accept(b.site_ops, clerk.principal, B, [Scan(i.id, i.weight_g) for i in before])
    with pytest.raises(ValidationError) as refused:
        accept(b.site_ops, clerk.principal, B, [Scan(after[0].id, after[0].weight_g)])
    assert refused.value.errors[0].rule == "unknown_item"
    view = integrity_overview(b.store, replication(b).state, "site", B)
    heard = {n["node"]: n for n in view["network"]["nodes"]}
    assert heard[A]["copy_seq"] == b.store.head(A)[0] > 0
    assert heard[A]["last_heard_at"] is not None
    loops.close()


def test_a_node_whose_key_is_not_trusted_is_not_followed(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """Without `replication trust --name GBLALA`, Gatwick applies nothing of Heathrow's and
    raises no alarm: following a node is the operator's choice."""
    a, b = _network(tmp_path, nats_url, prefix)
    (b.settings.keys_dir / f"{A}.pub").unlink()
    new_items(a, new_customer(a).record.id, n=1)
    loops.start(replication(a).publisher().run)
    wait_until(lambda: replication(a).state.acked(A) == a.store.head(A)[0], what="publication")
    follower = replication(b).follower(b.trusted_keys())
    loops.start(follower.run)
    wait_until(lambda: follower.processed >= 2, what="Gatwick to read Heathrow's messages")
    assert b.store.head(A)[0] == 0 and replication(b).state.alarms() == []
    assert b.admin.export_data_keys() == []
    loops.close()


def test_a_site_whose_copy_is_behind_its_consumer_asks_for_a_replay(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """Gatwick's database is replaced by an empty one (a restore) while its durable
    consumer has already acknowledged Heathrow's messages: Heathrow's status shows it ahead,
    Gatwick asks it to replay, and the copy catches up (verified as ever)."""
    a, b = _network(tmp_path, nats_url, prefix)
    customer = new_customer(a)
    items = new_items(a, customer.record.id, n=2)
    _run(loops, a)
    _pub, follow_b = _run(loops, b)
    wait_until(lambda: _caught_up(b, a, A), what="Gatwick to follow Heathrow's log")
    loops.stop_one(follow_b)
    b.close()
    (tmp_path / f"{B}.db").unlink()
    fresh = _site(tmp_path, B, nats_url, prefix)
    assert fresh.store.head(A)[0] == 0
    loops.start(replication(fresh).follower(fresh.trusted_keys()).run)
    wait_until(lambda: _caught_up(fresh, a, A), what="the replay to reach the new copy")
    assert _state(fresh, items[1].id) == "pre_advised"
    assert replication(fresh).state.alarms() == []
    loops.close()


def _deliveries(node: Container) -> list[tuple[str, str]]:
    from postex.eventlog.sql.admin import execute_raw

    rows = execute_raw(node.engine, "SELECT item_id, payload FROM webhook_deliveries")
    return sorted((str(r[0]), str(r[1])) for r in rows)


def test_each_event_is_announced_once_by_the_node_whose_log_holds_it(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """A customer of Heathrow subscribed to webhooks; its item is accepted at Gatwick. The
    pre-advice is announced by Heathrow only, the acceptance by Gatwick only."""
    from postex.tracking.app.webhooks import subscribe

    a, b = _network(tmp_path, nats_url, prefix)
    customer = new_customer(a)
    subscribe(a.ctx, customer.record.id, "https://hooks.example.com/postex")
    item = new_items(a, customer.record.id, n=1)[0]
    _run(loops, a)
    _run(loops, b)
    wait_until(lambda: _caught_up(b, a, A), what="Gatwick to follow Heathrow's log")
    clerk = staff(b, "clerk", site=B)
    accept(b.site_ops, clerk.principal, B, [Scan(item.id, item.weight_g)])
    wait_until(lambda: _caught_up(a, b, B), what="Heathrow to follow Gatwick's log")
    loops.close()
    at_a, at_b = _deliveries(a), _deliveries(b)
    assert len(at_a) == 1 and '"PRE"' in at_a[0][1]  # Heathrow: its pre-advice only
    assert at_b and all('"PRE"' not in p and i == item.id for i, p in at_b)
    assert any('"EMA"' in p for _, p in at_b)  # Gatwick: its acceptance (EMA, and EMB)


def test_a_site_follows_the_hubs_own_log_like_any_node(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """A node's log is followed whatever its role: pre-advice written in the hub's own log
    (`HUB`) and published is accepted at Gatwick."""
    hub = make_node(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub.db'}", site="HUB",
                    role="hub", nats_url=nats_url, nats_prefix=prefix)  # fmt: skip
    (tmp_path / B / "keys").mkdir(parents=True, mode=0o700)
    shutil.copy(hub.settings.keys_dir / "kek.json", tmp_path / B / "keys" / "kek.json")
    b = _site(tmp_path, B, nats_url, prefix)
    trust(b, hub, "HUB")
    customer = new_customer(hub)
    item = new_items(hub, customer.record.id, n=1)[0]
    assert hub.store.head("HUB")[0] > 0
    loops.start(replication(hub).publisher().run)
    loops.start(replication(b).follower(b.trusted_keys()).run)
    wait_until(lambda: _caught_up(b, hub, "HUB"), what="Gatwick to follow the hub's log")
    clerk = staff(b, "clerk", site=B)
    accept(b.site_ops, clerk.principal, B, [Scan(item.id, item.weight_g)])
    assert _state(b, item.id) == "accepted"
    loops.close()


def test_a_site_that_trusts_the_pre_advising_node_late_ends_with_the_item_accepted(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """Birmingham follows Gatwick before it trusts Heathrow: Gatwick's acceptance of an item
    pre-advised at Heathrow is stored there but waits for the pre-advice it saw (status
    says so); once Heathrow is trusted, its log is replayed and the item is accepted."""
    c_code = "GBBHXA"
    a, b = _network(tmp_path, nats_url, prefix)
    (tmp_path / c_code / "keys").mkdir(parents=True, mode=0o700)
    shutil.copy(a.settings.keys_dir / "kek.json", tmp_path / c_code / "keys" / "kek.json")
    c = _site(tmp_path, c_code, nats_url, prefix)
    trust(c, b, B)  # Heathrow not yet
    trust(a, c, c_code)
    trust(b, c, c_code)
    item = new_items(a, new_customer(a).record.id, n=1)[0]
    _run(loops, a)
    _run(loops, b)
    wait_until(lambda: _caught_up(b, a, A), what="Gatwick to follow Heathrow's log")
    accept(b.site_ops, staff(b, "clerk", site=B).principal, B, [Scan(item.id, item.weight_g)])
    _pub, follow_c = _run(loops, c)
    wait_until(lambda: _caught_up(c, b, B), what="Birmingham to follow Gatwick's log")
    waiting = replication(c).waiting()
    assert [(w.site, w.blocked.on[0]) for w in waiting] == [(B, A)]
    with TestClient(create_app(c)) as client:
        auditor = staff(c, "auditor", site=None)
        view = client.get("/api/v1/integrity", headers={"Authorization": f"Bearer {auditor.token}"})
        assert [w["log"] for w in view.json()["waiting"]] == [B]
    loops.stop_one(follow_c)
    trust(c, a, A)
    loops.start(replication(c).follower(c.trusted_keys()).run)
    wait_until(lambda: _caught_up(c, a, A), what="Heathrow's log to be replayed to Birmingham")
    wait_until(lambda: replication(c).waiting() == [], what="Gatwick's log to apply")
    assert _state(c, item.id) == "accepted"
    assert replication(c).state.alarms() == []
    loops.close()
    live = c.rebuilder.projection_digest()
    c.rebuilder.rebuild()
    assert c.rebuilder.projection_digest() == live
