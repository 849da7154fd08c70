"""A site's log reaches the hub through a real JetStream, verified, witnessed, in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from postex.bootstrap import Container, replication
from postex.eventlog.events import NewEvent
from postex.eventlog.sql.admin import execute_raw
from postex.network.app.integrity import verify_store
from postex.network.app.status import integrity_overview
from tests.factories import new_customer, new_items
from tests.network.conftest import Loops, pair, start_replication, wait_until

pytestmark = pytest.mark.nats


def _converged(site: Container, hub: Container, name: str = "GBLALA") -> bool:
    return bool(hub.store.head(name) == site.store.head(name))


def test_site_log_is_copied_verified_and_witnessed(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """Every event reaches the hub, the copy verifies, and every checkpoint is countersigned."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url, checkpoint_every=20)
    customer = new_customer(site)
    new_items(site, customer.record.id, n=30)
    pub, _consumer = start_replication(loops, site, hub)
    new_items(site, customer.record.id, n=25)
    wait_until(lambda: _converged(site, hub), what="hub to reach the site's head")
    wait_until(lambda: pub.acked == site.store.head("GBLALA")[0], what="acknowledgement")
    reports = verify_store(hub.store, hub.trusted_keys(), "GBLALA")
    assert reports[0].ok and reports[0].head_seq == site.store.head("GBLALA")[0]
    cps = [cp.seq for cp in site.store.checkpoints("GBLALA")]
    assert cps
    rep = replication(hub)
    wait_until(lambda: [w.seq for w in rep.state.witnesses("GBLALA")] == cps, what="witnesses")
    wait_until(lambda: len(rep.state.data_keys("GBLALA")) == 1, what="data key copy")
    assert rep.state.alarms() == []
    assert replication(site).state.acked("GBLALA") == site.store.head("GBLALA")[0]
    head = site.store.head("GBLALA")[0]
    wait_until(
        lambda: _hub_view(hub)["replication"] == {
            "copy_seq": head, "site_head_seq": head, "lag": 0,
            "reported_at": _hub_view(hub)["replication"]["reported_at"],
        },
        what="the hub to show lag 0",
    )  # fmt: skip
    mine = integrity_overview(site.store, replication(site).state, "site", "GBLALA")
    assert mine["sites"][0]["replication"] == {"acked_seq": head, "lag": 0}
    loops.close()


def _hub_view(hub: Container) -> dict[str, Any]:
    view = integrity_overview(hub.store, replication(hub).state, "hub", "HUB")
    row: dict[str, Any] = next(s for s in view["sites"] if s["site"] == "GBLALA")
    return row


def test_broken_event_is_refused_and_raises_an_alarm(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """An event whose hash does not match is never stored; the hub raises an integrity alarm."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    with site.store.write("GBLALA") as uow:
        uow.append([NewEvent("test.thing.v1", {"n": i}) for i in range(10)])
    execute_raw(
        site.engine, "UPDATE events SET body = ? WHERE site = 'GBLALA' AND seq = 6", (b'{"n":99}',)
    )
    start_replication(loops, site, hub)
    rep = replication(hub)
    wait_until(lambda: bool(rep.state.alarms()), what="an alarm")
    alarm = rep.state.alarms()[0]
    assert (alarm.site, alarm.seq, alarm.kind) == ("GBLALA", 6, "broken-chain")
    assert hub.store.head("GBLALA")[0] == 5
    loops.close()


def test_history_rewritten_after_witnessing_is_flagged(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """A site that re-presents a different but internally consistent history is flagged."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url, checkpoint_every=5)
    with site.store.write("GBLALA") as uow:
        uow.append([NewEvent("test.thing.v1", {"n": i}) for i in range(10)])
    start_replication(loops, site, hub)
    wait_until(lambda: _converged(site, hub), what="first copy")
    loops.close()
    # The site's store is replaced by another, self-consistent history of the same length
    # (by someone with the host: the local anchor goes too, or the site refuses to write).
    site.admin.wipe()
    (site.settings.keys_dir / "anchor-GBLALA.json").unlink()
    with site.store.write("GBLALA") as uow:
        uow.append([NewEvent("test.thing.v1", {"n": -i}) for i in range(12)])
    replication(site).state.set_acked("GBLALA", 0, "2026-01-01T00:00:00.000000Z")
    again = Loops()
    start_replication(again, site, hub)
    rep = replication(hub)
    wait_until(lambda: bool(rep.state.alarms()), what="an alarm")
    assert rep.state.alarms()[0].kind == "inconsistent-history"
    assert hub.store.head("GBLALA")[0] == 10
    again.close()


def test_erasing_a_customer_removes_its_data_key_from_the_hub(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """The hub's copy of wrapped data keys follows the site: an erased customer's key goes."""
    from postex.accounts.app.customers import erase_customer

    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    kept, erased = new_customer(site, "Kept Ltd"), new_customer(site, "Erased Ltd")
    start_replication(loops, site, hub)
    state = replication(hub).state
    wait_until(lambda: len(state.data_keys("GBLALA")) == 2, what="two keys at the hub")
    erase_customer(site.ctx, erased.record.id)
    wait_until(lambda: len(state.data_keys("GBLALA")) == 1, what="the erased key to go")
    assert [k[0] for k in state.data_keys("GBLALA")] == [kept.record.id]
    loops.close()
