"""What an operator or auditor sees of replication: hub verification and the overview.

:func:`verify_copies` is ``postex verify --hub``; :func:`integrity_for` is
``GET /api/v1/integrity``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Principal, Role, require_roles
from postex.eventlog.authlog import LogAuthority
from postex.eventlog.chain import ChainFault
from postex.eventlog.ports import Progress, Store
from postex.eventlog.saw import Wait
from postex.eventlog.verify import SiteReport
from postex.kernel import text as text_policy
from postex.kernel.errors import NotFoundError, ValidationError
from postex.network.app.follower import network_view
from postex.network.app.hub import Alarm, ReplicationState, VerificationRecord
from postex.network.app.integrity import verify_store
from postex.network.app.refusals import PUBLISHER_KINDS
from postex.network.app.witness import witness_valid


@dataclass
class HubVerification:
    reports: list[SiteReport]
    witness_faults: list[ChainFault]
    alarms: list[Alarm]
    events_checked: int

    @property
    def blocking(self) -> list[Alarm]:
        """Open alarms about the copies. Alarms about refused messages (someone without a
        site's key publishing on NATS; nothing was stored) are reported but do not fail
        verification, so such a publisher cannot make every scheduled verify fail."""
        return [a for a in self.alarms if a.kind not in PUBLISHER_KINDS]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports) and not self.witness_faults and not self.blocking


def verify_copies(
    store: Store,
    state: ReplicationState,
    trusted: Mapping[str, bytes],
    now: str,
    progress: Progress | None = None,
    authority: LogAuthority | None = None,
    own_site: str | None = None,
) -> HubVerification:
    """Verify every copy the hub holds, every countersignature, and list the open alarms;
    with ``authority``, the hub's own log is authenticated too (it holds no site's key).
    With ``own_site`` (the hub's), a copy whose newest checkpoint came before its events is
    behind, not faulty, unless the hub countersigned that checkpoint (it did so only once
    the copy held its events)."""

    def witnessed(site: str) -> set[int]:
        return {w.seq for w in state.witnesses(site)}

    reports = verify_store(store, trusted, None, progress, authority, own_site, witnessed)
    faults = []
    for site in store.sites():
        cps = {cp.seq: cp for cp in store.checkpoints(site)}
        for w in state.witnesses(site):
            cp = cps.get(w.seq)
            if cp is None or not witness_valid(w, cp, trusted):
                faults.append(ChainFault(site, w.seq, "countersignature is not valid"))
    result = HubVerification(
        reports, faults, state.alarms(), sum(r.events_checked for r in reports)
    )
    bad = [f for r in reports for f in r.faults] + faults
    detail = "; ".join(f"{f.site} seq {f.seq}: {f.reason}" for f in bad)
    if result.blocking:
        detail = (detail + "; " if detail else "") + f"{len(result.blocking)} open alarm(s)"
    notices = len(result.alarms) - len(result.blocking)
    if notices:
        detail = (detail + "; " if detail else "") + f"{notices} refused-publisher alarm(s)"
    state.record_verification(VerificationRecord(now, result.ok, result.events_checked, detail))
    return result


def integrity_overview(
    store: Store, state: ReplicationState, role: str, own_site: str, now: str | None = None,
    waiting: Sequence[Wait] = (),
) -> dict[str, Any]:  # fmt: skip
    """Heads, newest checkpoints, replication lag per site, last verification, alarms; on a
    site also what it knows of the other nodes it follows (``network``, since when cut off
    when ``now`` is given); ``waiting``: the logs whose projection waits on a version they
    saw (stored, counted in the heads and the lag, not yet applied)."""
    reports = state.reports()
    waits = {w.site: w for w in waiting}
    sites = sorted(set(store.sites()) | set(reports))
    rows = []
    for site in sites:
        seq, digest = store.head(site)
        cps = store.checkpoints(site)
        newest = cps[-1] if cps else None
        witnessed = {w.seq for w in state.witnesses(site)}
        row: dict[str, Any] = {
            "site": site,
            "head_seq": seq,
            "head_hash": digest.hex(),
            "checkpoint": None
            if newest is None
            else {"seq": newest.seq, "signed_at": newest.signed_at,
                  "witnessed": newest.seq in witnessed},
        }  # fmt: skip
        if role == "hub":
            rep = reports.get(site)
            row["replication"] = {
                "copy_seq": seq,
                "site_head_seq": rep.head_seq if rep else None,
                "lag": max(0, rep.head_seq - seq) if rep else None,
                "reported_at": rep.reported_at if rep else None,
            }
        elif role == "site" and site == own_site:
            acked = state.acked(site)
            row["replication"] = {"acked_seq": acked, "lag": max(0, seq - acked)}
        row["waiting"] = waits[site].to_json() if site in waits else None
        rows.append(row)
    last = state.last_verification()
    network = network_view(store, state, own_site, sites, now) if role == "site" else None
    return {
        "role": role,
        "site": own_site,
        "sites": rows,
        **({"network": network} if network is not None else {}),
        "waiting": [w.to_json() for w in waiting],
        "last_verification": None
        if last is None
        else {"at": last.at, "ok": last.ok, "events_checked": last.events_checked,
              "detail": last.detail},
        "alarms": [
            {"id": a.id, "site": a.site, "seq": a.seq, "kind": a.kind, "detail": a.detail,
             "raised_at": a.raised_at}
            for a in state.alarms()
        ],
    }  # fmt: skip


def integrity_for(
    p: Principal, store: Store, state: ReplicationState, role: str, own_site: str,
    now: str | None = None, waiting: Sequence[Wait] = (),
) -> dict[str, Any]:  # fmt: skip
    """The integrity overview, for operations leads, auditors and administrators only."""
    require_roles(p, Role.OPS, Role.AUDITOR, Role.ADMIN)
    return integrity_overview(store, state, role, own_site, now, waiting)


ALARM_CLEARED = "integrity.alarm_cleared"  # the audit action


def clear_alarm(
    store: Store, state: ReplicationState, own_site: str, alarm_id: int, reason: str,
    actor: dict[str, Any], now: str,
) -> Alarm:  # fmt: skip
    """Close an integrity alarm after investigation; audited in the node's own log.

    Raises ValidationError without a reason and NotFoundError for no such open alarm.
    """
    text = text_policy.clean(reason, "reason", multiline=True) if isinstance(reason, str) else ""
    if not 3 <= len(text) <= 500:
        raise ValidationError.single("reason", "length", reason, "say why, in 3 to 500 characters")
    alarm = state.clear_alarm(alarm_id, text, now)
    if alarm is None:
        raise NotFoundError(f"no open integrity alarm {alarm_id}")
    details = {"site": alarm.site, "seq": alarm.seq, "kind": alarm.kind, "detail": alarm.detail}
    with store.write(own_site) as uow:
        uow.append([audit_event(actor, ALARM_CLEARED, f"alarm:{alarm_id}", text, details)])
    return alarm
