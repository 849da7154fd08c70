"""Network health for the operations console: per site, replication lag (events and
seconds), the newest checkpoint and the hub's countersignature of it, open integrity
alarms, and items accepted per hour over the last 24 hours.

What is known depends on the node: a site knows its own lag to the hub (head minus what
the transport acknowledged), the hub knows every site's (what the site reported minus its
copy), and a single node replicates nothing, so it shows itself with no lag at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from postex.accounts.app.auth import Principal, Role, require_roles
from postex.eventlog.chain import format_time
from postex.eventlog.ports import Store
from postex.network.app.hub import Alarm, ReplicationState, VerificationRecord
from postex.network.app.status import clear_alarm

HOURS = 24
ACCEPTANCE = "EMA"  # the tracking code of an item accepted at a site


class AcceptanceCounts(Protocol):
    def accepted_per_hour(self, since: str) -> Mapping[tuple[str, str], int]:
        """(site, ``YYYY-MM-DDTHH``) -> items accepted in that UTC hour, from ``since``."""
        ...


@dataclass(frozen=True)
class SiteHealth:
    site: str
    this_node: bool
    head_seq: int
    replicated: bool  # whether this node knows a lag for the site
    lag_events: int | None
    lag_seconds: int | None
    checkpoint_seq: int | None
    checkpoint_at: str | None
    witnessed_at: str | None  # the hub's countersignature of the newest checkpoint
    accepted: tuple[int, ...]  # per hour, oldest first, HOURS of them
    alarms: tuple[Alarm, ...]

    @property
    def accepted_total(self) -> int:
        return sum(self.accepted)


@dataclass(frozen=True)
class NetworkHealth:
    role: str
    node_site: str
    at: str
    hours: tuple[str, ...]  # the UTC hours of ``accepted``, oldest first (``HH:00``)
    sites: tuple[SiteHealth, ...]
    alarms: tuple[Alarm, ...]
    last_verification: VerificationRecord | None


def _seconds(later: datetime, earlier: str) -> int:
    then = datetime.fromisoformat(earlier.replace("Z", "+00:00"))
    return max(0, int((later - then).total_seconds()))


def _recorded_at(store: Store, site: str, seq: int) -> str | None:
    """When event ``seq`` of ``site`` was recorded (None if this node has no such event)."""
    if seq <= 0:
        return None
    event = next(iter(store.read_events(site, seq - 1, seq, batch=1)), None)
    return event.recorded_at if event is not None else None


def _lag(
    store: Store, state: ReplicationState, role: str, own: str, site: str, seq: int, now: datetime
) -> tuple[int | None, int | None]:
    """(events, seconds) behind, or (None, None) where this node does not replicate it.

    Seconds: on a site, how long the oldest event not yet acknowledged has waited; on the
    hub, how old the newest event of its copy is while the site reports more.
    """
    if role == "site" and site == own:
        acked = state.acked(site)
        events = max(0, seq - acked)
        waiting = _recorded_at(store, site, acked + 1) if events else None
        return events, _seconds(now, waiting) if waiting else 0
    if role == "hub":
        rep = state.reports().get(site)
        if rep is None:
            return None, None
        events = max(0, rep.head_seq - seq)
        newest = _recorded_at(store, site, seq) if events else None
        return events, _seconds(now, newest) if newest else 0
    return None, None


def network_health(
    p: Principal,
    store: Store,
    state: ReplicationState,
    counts: AcceptanceCounts,
    role: str,
    own_site: str,
    now: datetime,
) -> NetworkHealth:
    """The console's network page, for operations, auditors and administrators."""
    require_roles(p, Role.OPS, Role.AUDITOR, Role.ADMIN)
    top = now.replace(minute=0, second=0, microsecond=0)
    starts = [top - timedelta(hours=HOURS - 1 - n) for n in range(HOURS)]
    keys = [format_time(h)[:13] for h in starts]
    per_hour = counts.accepted_per_hour(format_time(starts[0]))
    alarms = tuple(state.alarms())
    sites = sorted(set(store.sites()) | set(state.reports()) | {own_site})
    rows = []
    for site in sites:
        seq, _ = store.head(site)
        cps = store.checkpoints(site)
        newest = cps[-1] if cps else None
        witness = None
        if newest is not None:
            witness = next((w for w in state.witnesses(site) if w.seq == newest.seq), None)
        lag_events, lag_seconds = _lag(store, state, role, own_site, site, seq, now)
        rows.append(SiteHealth(
            site=site, this_node=site == own_site and role != "hub", head_seq=seq,
            replicated=lag_events is not None, lag_events=lag_events, lag_seconds=lag_seconds,
            checkpoint_seq=newest.seq if newest else None,
            checkpoint_at=newest.signed_at if newest else None,
            witnessed_at=witness.witnessed_at if witness else None,
            accepted=tuple(per_hour.get((site, k), 0) for k in keys),
            alarms=tuple(a for a in alarms if a.site == site),
        ))  # fmt: skip
    return NetworkHealth(
        role=role, node_site=own_site, at=format_time(now),
        hours=tuple(f"{h.hour:02d}:00" for h in starts), sites=tuple(rows), alarms=alarms,
        last_verification=state.last_verification(),
    )  # fmt: skip


def clear_alarm_as(
    p: Principal, store: Store, state: ReplicationState, own_site: str, alarm_id: int,
    reason: str, now: str,
) -> Alarm:  # fmt: skip
    """An operations user closes an integrity alarm with a reason (audited as them)."""
    require_roles(p, Role.OPS)
    actor: dict[str, Any] = p.actor()
    return clear_alarm(store, state, own_site, alarm_id, reason, actor, now)
