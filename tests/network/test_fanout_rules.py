"""Rules across logs without a transport: a cancel racing an acceptance settles the same
way on both nodes in either order (the scan wins); a cut-off site says since when."""

from __future__ import annotations

import base64
from pathlib import Path

from postex.bootstrap import Container, replication
from postex.eventlog.sql.admin import execute_raw
from postex.items.app.preadvice import cancel_item
from postex.network.app.signatures import events_claim, read_signature, sign_message
from postex.network.app.wire import encode_events
from postex.sites.app.acceptance import Scan, accept
from postex.tracking.app.webhooks import subscribe
from tests.conftest import make_node
from tests.factories import new_customer, new_items, staff
from tests.network.conftest import trust

A, B = "GBLALA", "GBLGWA"


def _site(tmp_path: Path, code: str) -> Container:
    return make_node(tmp_path / code, f"sqlite:///{tmp_path / f'{code}.db'}", site=code,
                     role="site")  # fmt: skip


def _feed(dst: Container, src: Container, site: str) -> None:
    """``dst`` follows ``src``'s log up to its head (the follower's checks, no transport)."""
    events = list(src.store.read_events(site, dst.store.head(site)[0]))
    out = replication(dst).follower(dst.trusted_keys()).follower.hub.receive_events(site, events)
    assert out.fault is None and out.stored == len(events)


def _tables(node: Container, item_id: str) -> tuple[object, ...]:
    item = execute_raw(node.engine, "SELECT state, updated_at FROM items WHERE id = ?", [item_id])
    rows = execute_raw(
        node.engine,
        "SELECT site, seq, code FROM tracking_events WHERE item_id = ? ORDER BY site, seq",
        [item_id],
    )
    return tuple(item[0]), tuple(tuple(r) for r in rows)


def _refusals(node: Container) -> list[str]:
    rows = execute_raw(
        node.engine,
        "SELECT item_id FROM webhook_deliveries WHERE event_type = 'item.cancellation_refused'",
    )
    return [str(r[0]) for r in rows]


def test_a_scan_wins_over_a_cancel_it_raced_on_every_node(tmp_path: Path) -> None:
    a, b = _site(tmp_path, A), _site(tmp_path, B)
    customer = new_customer(a)
    subscribe(a.ctx, customer.record.id, "https://hooks.example.com/postex")
    item = new_items(a, customer.record.id, n=1)[0]
    _feed(b, a, A)
    cancel_item(a.ctx, customer.record.id, item.id)  # Heathrow has not seen the scan
    clerk = staff(b, "clerk", site=B)
    accept(b.site_ops, clerk.principal, B, [Scan(item.id, item.weight_g)])  # nor Gatwick the cancel
    _feed(b, a, A)  # Gatwick: acceptance first, then the cancel
    _feed(a, b, B)  # Heathrow: cancel first, then the acceptance
    at_a, at_b = _tables(a, item.id), _tables(b, item.id)
    assert at_a == at_b
    (state, _), rows = at_a
    assert state == "accepted"
    assert [(r[0], r[2]) for r in rows] == [(B, "EMA"), (B, "EMB")]  # no CAN row anywhere
    # The customer hears it once, from the node whose log holds the cancel.
    assert _refusals(a) == [item.id] and _refusals(b) == []
    # A rebuild of either node gives the tables the live run gave.
    for node, live in ((a, at_a), (b, at_b)):
        node.rebuilder.rebuild()
        assert _tables(node, item.id) == live
    assert _refusals(a) == [item.id] and _refusals(b) == []
    a.close()
    b.close()


def test_status_says_since_when_a_site_is_cut_off(tmp_path: Path) -> None:
    """Gatwick last heard from Heathrow at T; 31 s later /status and the integrity API say
    it is cut off since T; a new message from Heathrow ends it."""
    from fastapi.testclient import TestClient

    from postex.server import create_app
    from tests.factories import ManualClock

    clock = ManualClock()
    b = make_node(tmp_path / B, f"sqlite:///{tmp_path / 'b.db'}", site=B, role="site",
                  clock=clock)  # fmt: skip
    (b.settings.keys_dir / f"{A}.pub").write_text(base64.b64encode(b"\x01" * 32).decode())
    follower = replication(b).follower(b.trusted_keys()).follower
    follower.receive_status(A, 12)
    heard = replication(b).now()
    auditor = staff(b, "auditor", site=None)
    auth = {"Authorization": f"Bearer {auditor.token}"}
    with TestClient(create_app(b)) as client:
        assert "no news from the rest of the network" not in client.get("/status").text
        clock.advance(seconds=31)
        page = client.get("/status").text
        assert f"no news from the rest of the network since {heard}" in page
        view = client.get("/api/v1/integrity", headers=auth).json()["network"]
        assert view["cut_off_since"] == heard
        assert view["nodes"] == [{"node": A, "copy_seq": 0, "head_seq": 12, "last_heard_at": heard}]
        follower.receive_status(A, 13)
        assert (
            client.get("/api/v1/integrity", headers=auth).json()["network"]["cut_off_since"] is None
        )
    b.close()


def test_data_keys_travel_only_under_a_shared_kek_and_an_erasure_reaches_every_copy(
    tmp_path: Path,
) -> None:
    """Gatwick takes Heathrow's wrapped keys only when it holds the KEK they are wrapped
    under; Heathrow's erasure destroys Gatwick's copy and it is never taken back."""
    import shutil

    from postex.accounts.app.customers import erase_customer

    a = _site(tmp_path, A)
    other = _site(tmp_path, "GBBHXA")  # a KEK of its own
    (tmp_path / B / "keys").mkdir(parents=True, mode=0o700)
    shutil.copy(a.settings.keys_dir / "kek.json", tmp_path / B / "keys" / "kek.json")
    b = _site(tmp_path, B)  # the network KEK
    customer = new_customer(a)
    keys = a.admin.export_data_keys()
    for node in (b, other):
        _feed(node, a, A)
        replication(node).follower(node.trusted_keys()).follower.hub.receive_keys(A, keys)
    assert [k[0] for k in b.admin.export_data_keys()] == [customer.record.id]
    assert other.admin.export_data_keys() == []  # wrapped under a KEK it does not hold
    erase_customer(a.ctx, customer.record.id)
    trust(b, a, A)
    follower = replication(b).follower(b.trusted_keys()).follower
    events = list(a.store.read_events(A, b.store.head(A)[0]))
    data = encode_events(A, events)  # the signed message Gatwick reads off the stream
    sig = read_signature(sign_message(a.signer, events_claim(A, events, data)))
    out = follower.receive_events(A, data, sig)
    assert out is not None and out.stored == len(events)
    assert b.admin.export_data_keys() == []
    follower.hub.receive_keys(A, keys)  # an old keys message, replayed
    assert b.admin.export_data_keys() == []
    for node in (a, b, other):
        node.close()


def test_a_scheduled_hold_is_activated_by_the_node_that_placed_it_only(tmp_path: Path) -> None:
    """Every site knows a hold placed at Heathrow, but only Heathrow lists its items when it
    starts; Gatwick gets the listing by following, with no duplicate and no alarm."""
    from datetime import timedelta

    from postex.incidents.app.holds import activate_due, place_hold
    from tests.factories import ManualClock

    clock = ManualClock()
    a = make_node(tmp_path / A, f"sqlite:///{tmp_path / 'a.db'}", site=A, role="site",
                  clock=clock)  # fmt: skip
    b = make_node(tmp_path / B, f"sqlite:///{tmp_path / 'b.db'}", site=B, role="site",
                  clock=clock)  # fmt: skip
    item = new_items(a, new_customer(a).record.id, n=1)[0]
    accept(a.site_ops, staff(a, "clerk").principal, A, [Scan(item.id, item.weight_g)])
    boss = staff(a, "supervisor")
    start = clock.now() + timedelta(minutes=30)
    scope = {"scope": {"sites": [A]}, "reason": "power cut", "advisory": "Paused."}
    place_hold(a.ctx, boss.principal, {**scope, "starts_at": start.isoformat()})
    _feed(b, a, A)
    clock.advance(minutes=31)
    assert activate_due(b.ctx) == 0  # not Gatwick's hold: nothing written there
    assert b.store.head(B)[0] == 0 or all("hold" not in e.type for e in b.store.read_events(B))
    assert activate_due(a.ctx) > 0
    _feed(b, a, A)
    assert _tables(b, item.id)[0][0] == "held" == _tables(a, item.id)[0][0]
    assert replication(b).state.alarms() == []
    a.close()
    b.close()
