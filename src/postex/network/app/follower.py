"""A node following every other node's log: the hub's checks, without the hub's witness.

Each node of a network runs a :class:`Follower` beside its publisher. It reads every other
node's events, checkpoints and wrapped data keys off the stream and hands them to a
:class:`~postex.network.app.hub.Hub` built in *follower mode*: the same code checks the
publishing node's message signature with the key trusted for that node, links each event
to the head of the local copy, recomputes its hash, compares it with the checkpoints held,
and only then stores the verified copy and applies the projections in one transaction (so
an item pre-advised at another node is in this node's ``items`` table, a hold placed
elsewhere is in its ``holds`` table), each event once the versions of the items it saw are
applied here (else it waits, stored, with the rest of its log: docs/log-format.md, "Rules
across logs"). A refused message raises the same integrity alarms as on the hub and nothing
of it is applied.

What follower mode leaves out: it never countersigns (no witness is made or kept: the hub
alone witnesses) and it never stores a foreign node's data keys beside the log as the hub
does. Wrapped data keys go into the node's own ``data_keys`` through :class:`KeyShelf`,
which takes only keys wrapped under a KEK this node holds (the nodes of one operator share
the network KEK, docs/operations.md) and never a key of a customer erased here.

The node's own log is never taken from the stream: the node is its only writer; nor is
the log of a node whose key this node does not trust (:meth:`Follower.follows`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from postex.accounts.events import CustomerErased
from postex.eventlog.chain import format_time
from postex.eventlog.checkpoints import Signer
from postex.eventlog.events import StoredEvent
from postex.eventlog.ports import Clock
from postex.network.app.hub import (
    Alarm,
    Hub,
    HubStore,
    Outcome,
    ReplicationState,
    SiteReportedHead,
    VerificationRecord,
)
from postex.network.app.signatures import MessageSignature
from postex.network.app.wire import DataKey, decode_checkpoint
from postex.network.app.witness import Witness

ERASED_EVENT = CustomerErased.TYPE
SILENT_AFTER_S = 30  # nodes publish a status every second: 30 s of silence is a cut
HEARD_EVERY_S = 1.0  # a node's events are recorded as news from it at most this often


class KeyShelf(Protocol):
    """Where a follower puts other nodes' wrapped data keys (the node's ``data_keys``)."""

    def take(self, origin: str, keys: Sequence[DataKey]) -> int:
        """Add the keys this node can unwrap and does not hold; return how many were added."""
        ...

    def forget(self, customer_ids: Sequence[str]) -> int:
        """Destroy this node's copies of the customers' data keys (an erasure elsewhere)."""
        ...


class NoCountersign:
    """The follower's stand-in for a signer: a follower witnesses nothing.

    :meth:`Hub.receive_checkpoint` makes a countersignature once its copy agrees with a
    checkpoint; in follower mode it is made with no key, and dropped by :class:`FollowerState`.
    """

    key_id = "follower-no-witness"
    public = bytes(32)  # no key: it signs nothing anyone could check

    def sign(self, message: bytes) -> bytes:
        return b""


@dataclass
class FollowerState:
    """The node's replication state as the follower's hub sees it: alarms are the node's own;
    witnesses are never kept; data keys go onto the :class:`KeyShelf`; a verified message
    from a node counts as hearing from it (kept as that node's report)."""

    inner: ReplicationState
    shelf: KeyShelf

    def acked(self, site: str) -> int:
        return self.inner.acked(site)

    def set_acked(self, site: str, seq: int, at: str) -> None:
        self.inner.set_acked(site, seq, at)

    def raise_alarm(self, site: str, seq: int, kind: str, detail: str, at: str) -> bool:
        return self.inner.raise_alarm(site, seq, kind, detail, at)

    def upsert_alarm(self, site: str, kind: str, detail: str, at: str) -> int:
        return self.inner.upsert_alarm(site, kind, detail, at)

    def alarms(self) -> list[Alarm]:
        return self.inner.alarms()

    def clear_alarm(self, alarm_id: int, reason: str, at: str) -> Alarm | None:
        return self.inner.clear_alarm(alarm_id, reason, at)

    def record_report(self, report: SiteReportedHead) -> None:
        self.inner.record_report(report)

    def reports(self) -> dict[str, SiteReportedHead]:
        return self.inner.reports()

    def save_witness(self, w: Witness) -> None:
        return None  # the hub witnesses; a follower does not

    def witnesses(self, site: str) -> list[Witness]:
        return []

    def save_data_keys(self, site: str, keys: Sequence[DataKey]) -> None:
        self.shelf.take(site, keys)

    def data_keys(self, site: str) -> list[DataKey]:
        return []

    def record_verification(self, v: VerificationRecord) -> None:
        self.inner.record_verification(v)

    def last_verification(self) -> VerificationRecord | None:
        return self.inner.last_verification()


@dataclass
class Follower:
    """One node's follower: verify other nodes' messages as the hub does, then apply them."""

    own: str
    store: HubStore
    state: ReplicationState
    shelf: KeyShelf
    clock: Clock
    trusted: Mapping[str, bytes]
    site_keys: Mapping[str, Mapping[str, bytes]]
    hub: Hub = field(init=False)
    # When this follower last recorded hearing from each node (see :meth:`_heard`).
    _heard_at: dict[str, datetime] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        signer: Signer = NoCountersign()
        self.hub = Hub(
            self.store, FollowerState(self.state, self.shelf), signer,
            self.trusted, self.clock, project=True, site_keys=self.site_keys,
        )  # fmt: skip

    def mine(self, site: str) -> bool:
        """The node's own log: never taken from the stream."""
        return site == self.own

    def follows(self, site: str) -> bool:
        """Another node whose key this node trusts (``replication trust --name NODE``).

        A node nobody here trusts is not followed: its messages are left unapplied without
        an alarm (not trusting a node is a choice, not an integrity fault). A message for a
        followed node that its key did not sign raises an alarm, exactly as on the hub.
        """
        return not self.mine(site) and bool(self.site_keys.get(site))

    def receive_events(
        self, site: str, data: bytes, sig: MessageSignature | None
    ) -> Outcome | None:
        """An events message of another node: verified exactly as on the hub, then stored and
        projected; None (an alarm raised, nothing applied) if its signature is refused."""
        out = self.hub.receive_signed_events(site, data, sig)
        return None if out is None else self._received(site, out)

    def check_signed_events(
        self, site: str, data: bytes, sig: MessageSignature | None
    ) -> list[StoredEvent] | None:
        """A message's events if the node's key signed it (:meth:`Hub.check_signed_events`)."""
        return self.hub.check_signed_events(site, data, sig)

    def receive_runs(self, site: str, runs: Sequence[Sequence[StoredEvent]]) -> Outcome:
        """Checked runs of ``site``, several messages at once (:meth:`Hub.receive_runs`)."""
        return self._received(site, self.hub.receive_runs(site, runs))

    def _received(self, site: str, out: Outcome) -> Outcome:
        if out.stored:
            self._erasures(out.events)
            if self._hearing(site):
                self._heard(site, out.events[-1].seq)
        elif out.fault is None and self._hearing(site):
            self._heard(site, self.store.head(site)[0])
        return out

    def receive_keys(self, site: str, data: bytes, sig: MessageSignature | None) -> bool:
        return self.hub.receive_signed_keys(site, data, sig)

    def receive_checkpoint(self, data: bytes) -> None:
        cp = decode_checkpoint(data)
        if self.follows(cp.site):
            self.hub.receive_checkpoint(cp)

    def receive_status(self, site: str, head: int) -> None:
        """A node's periodic status (a sign of life; its head may be ahead of the copy),
        kept with this node's time of receipt (the other node's clock may be wrong)."""
        if self.follows(site):
            at = format_time(self.clock.now())
            self.state.record_report(SiteReportedHead(site, head, self.store.head(site)[0], at))

    def _hearing(self, site: str) -> bool:
        """Whether a verified message from ``site`` is recorded as hearing from it: the
        first one, then at most one every :data:`HEARD_EVERY_S` seconds. What it records
        is the time (``last_heard_at``, read against :data:`SILENT_AFTER_S`) and the node's
        head, which :func:`network_view` reads as ``max(copy, head)``; the copy's seq comes
        from the store. Recording every message cost a write transaction per message, a
        third of a small message's copy; a status each second records it as well."""
        now = self.clock.now()
        last = self._heard_at.get(site)
        if last is not None and 0 <= (now - last).total_seconds() < HEARD_EVERY_S:
            return False
        self._heard_at[site] = now
        return True

    def _heard(self, site: str, copy_seq: int) -> None:
        at = format_time(self.clock.now())
        known = self.state.reports().get(site)
        head = max(copy_seq, known.head_seq if known else 0)
        self.state.record_report(SiteReportedHead(site, head, copy_seq, at))

    def _erasures(self, stored: Sequence[StoredEvent]) -> None:
        """A customer erased at another node: this node's copy of the data key goes too
        (read from the events just verified and stored, not read back)."""
        erased = []
        for e in stored:
            if e.type == ERASED_EVENT:
                erased.append(str(json.loads(e.body)["customer_id"]))
        if erased:
            self.shelf.forget(erased)


class Heads(Protocol):
    def head(self, site: str) -> tuple[int, bytes]: ...


def network_view(
    store: Heads, state: ReplicationState, own: str, sites: Sequence[str], now: str | None
) -> dict[str, Any]:
    """What a site knows of the other nodes: per node the copy's seq, the node's last known
    head and when this site last heard from it; ``cut_off_since`` is the last time it heard
    from any node when that is more than :data:`SILENT_AFTER_S` ago (None while in touch)."""
    reports = state.reports()
    nodes: list[dict[str, Any]] = []
    for site in sorted((set(sites) | set(reports)) - {own}):
        rep = reports.get(site)
        copy_seq = store.head(site)[0]
        nodes.append({
            "node": site, "copy_seq": copy_seq,
            "head_seq": max(copy_seq, rep.head_seq) if rep else copy_seq,
            "last_heard_at": rep.reported_at if rep else None,
        })  # fmt: skip
    heard: list[str] = [n["last_heard_at"] for n in nodes if n["last_heard_at"]]
    last = max(heard, key=_stamp) if heard else None
    cut = None
    if last is not None and now is not None:
        silent = (_stamp(now) - _stamp(last)).total_seconds()
        cut = last if silent > SILENT_AFTER_S else None
    return {"nodes": nodes, "last_heard_at": last, "cut_off_since": cut}


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
