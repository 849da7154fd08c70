"""Network health as each kind of node sees it: lag in events and seconds, the newest
checkpoint and its witness, alarms by site, and acceptances per hour (both stores)."""

from __future__ import annotations

import secrets

import pytest

from postex.accounts.app.auth import Principal, Role
from postex.bootstrap import Container, replication
from postex.eventlog.chain import format_time
from postex.kernel.errors import ForbiddenError
from postex.network.app.health import NetworkHealth, clear_alarm_as, network_health
from postex.network.app.hub import SiteReportedHead
from postex.network.app.witness import Witness
from tests.factories import ManualClock, letters, staff
from tests.incidents.incident_helpers import accept_items

SITE = "GBLALA"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _health(node: Container, role: str, p: Principal | None = None) -> NetworkHealth:
    rep = replication(node)
    p = p or staff(node, "ops", site=None, name=f"ops.{secrets.token_hex(3)}").principal
    return network_health(p, node.store, rep.state, rep.acceptance_counts(), role, SITE,
                          node.ctx.clock.now())  # fmt: skip


def test_a_single_node_shows_itself_without_replication(
    node: Container, clock: ManualClock
) -> None:
    items = letters(node, 2, 1)
    accept_items(node, [i.id for i in items])
    clock.advance(hours=1)
    (site,) = _health(node, "single").sites
    assert (site.site, site.this_node, site.replicated) == (SITE, True, False)
    assert site.lag_events is None and site.lag_seconds is None
    assert len(site.accepted) == 24
    assert site.accepted[-2] == 3 and site.accepted_total == 3  # the previous hour


def test_a_site_counts_what_the_hub_has_not_acknowledged(
    node: Container, clock: ManualClock
) -> None:
    letters(node, 1, 0)
    ops = staff(node, "ops", site=None, name="olga").principal
    state = replication(node).state
    head, _ = node.store.head(SITE)
    state.set_acked(SITE, 1, format_time(clock.now()))
    clock.advance(seconds=90)
    (site,) = _health(node, "site", ops).sites
    assert site.lag_events == head - 1
    assert site.lag_seconds is not None and 90 <= site.lag_seconds < 100
    state.set_acked(SITE, head, format_time(clock.now()))
    (site,) = _health(node, "site", ops).sites
    assert (site.lag_events, site.lag_seconds) == (0, 0)


def test_the_hub_shows_reported_lag_and_witnessed_checkpoints(
    node: Container, clock: ManualClock
) -> None:
    letters(node, 1, 0)
    ops = staff(node, "ops", site=None, name="olga").principal
    node.admin.checkpoint_now(SITE)
    state = replication(node).state
    head, _ = node.store.head(SITE)
    cp = node.store.checkpoints(SITE)[-1]
    health = _health(node, "hub", ops)
    assert health.sites[0].lag_events is None  # no report from the site yet
    assert health.sites[0].witnessed_at is None
    state.record_report(SiteReportedHead(SITE, head + 7, head, format_time(clock.now())))
    state.save_witness(Witness(SITE, cp.seq, "2026-01-01T00:00:00.000000Z", "k", b"s"))
    clock.advance(seconds=30)
    (site,) = _health(node, "hub", ops).sites
    assert site.lag_events == 7
    assert site.lag_seconds is not None and site.lag_seconds >= 30
    assert (site.checkpoint_seq, site.witnessed_at) == (cp.seq, "2026-01-01T00:00:00.000000Z")
    assert site.this_node is False


def test_alarms_are_shown_by_site_and_only_ops_clear_them(
    node: Container, clock: ManualClock
) -> None:
    state = replication(node).state
    state.raise_alarm(SITE, 4, "fork", "two histories", format_time(clock.now()))
    auditor = staff(node, "auditor", site=None, name="audrey").principal
    ops = staff(node, "ops", site=None, name="olga").principal
    clerk = staff(node, "clerk", name="clara").principal
    (site,) = _health(node, "single", auditor).sites
    (alarm,) = site.alarms
    with pytest.raises(ForbiddenError):
        clear_alarm_as(auditor, node.store, state, SITE, alarm.id, "looked", "2026-01-01T00:00Z")
    assert ops.role is Role.OPS
    clear_alarm_as(ops, node.store, state, SITE, alarm.id, "replayed from hub", "2026-01-01T00:00Z")
    assert state.alarms() == []
    with pytest.raises(ForbiddenError):
        _health(node, "single", clerk)
