"""The hub's side of replication: checks on arrival, the verified copy, witnessing, alarms.

The hub (:class:`Hub`) checks the site's signature on every events and keys message with
the key it trusts for that site before anything else. It keeps a verified copy: it links
each event to the head of its copy and recomputes its hash; it never stores a broken event
and never skips one (a gap asks the site for a replay); it countersigns every site
checkpoint its copy agrees with and raises an alarm for any history that disagrees with
what it already holds. In the transaction that stores events it also applies the same
projections a site does, so the hub answers tracking for items of every site (sites issue
ids from their own serial sub-blocks, so item ids never collide). An event whose ``saw``
names a version not applied yet is stored but projected later, with the rest of its log
(postex.eventlog.sql.dependencies); a ``saw`` hash that differs from the applied event's
raises a ``saw-mismatch`` alarm and its log keeps waiting.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from postex.eventlog.chain import ChainFault, ChainState, format_time, verify_events
from postex.eventlog.checkpoints import Signer, signature_valid
from postex.eventlog.events import Checkpoint, StoredEvent
from postex.eventlog.ports import Clock
from postex.eventlog.saw import Imported, Wait
from postex.kernel.errors import IntegrityError
from postex.network.app.cosigning import CopyWitness
from postex.network.app.refusals import (
    BAD_SIGNATURE,
    UNKNOWN_PUBLISHER,
    UNKNOWN_SOURCE,
    UNSIGNED,
    RefusalAlarms,
)
from postex.network.app.signatures import (
    MessageClaim,
    MessageSignature,
    events_claim,
    keys_claim,
    message_refusal,
    site_code_ok,
)
from postex.network.app.wire import DataKey, decode_events, decode_keys
from postex.network.app.witness import Witness, countersign

# An event saw a version whose hash differs from the event applied here at that (log, seq).
SAW_MISMATCH = "saw-mismatch"
# Verified events stored but not projected: a projection refused them (a constraint).
PROJECTION_FAILED = "projection-failed"


@dataclass(frozen=True)
class Alarm:
    id: int
    site: str
    seq: int
    kind: str
    detail: str
    raised_at: str


@dataclass(frozen=True)
class SiteReportedHead:
    site: str
    head_seq: int
    acked_seq: int
    reported_at: str


@dataclass(frozen=True)
class VerificationRecord:
    at: str
    ok: bool
    events_checked: int
    detail: str


class ReplicationState(Protocol):
    """Replication bookkeeping kept beside the log (not in it, not a projection)."""

    def acked(self, site: str) -> int:
        """The highest seq of ``site`` the transport has acknowledged (site side)."""
        ...

    def set_acked(self, site: str, seq: int, at: str) -> None: ...

    def raise_alarm(self, site: str, seq: int, kind: str, detail: str, at: str) -> bool:
        """Record an integrity alarm; False if the same one is already open."""
        ...

    def upsert_alarm(self, site: str, kind: str, detail: str, at: str) -> int:
        """Rewrite the text of the open alarm of ``site`` and ``kind`` at seq 0 (an
        aggregated alarm), or raise it if none is open; return its id."""
        ...

    def alarms(self) -> list[Alarm]:
        """The open alarms (not cleared), oldest first."""
        ...

    def clear_alarm(self, alarm_id: int, reason: str, at: str) -> Alarm | None:
        """Close an open alarm; None if there is no such open alarm."""
        ...

    def record_report(self, report: SiteReportedHead) -> None: ...

    def reports(self) -> dict[str, SiteReportedHead]: ...

    def save_witness(self, w: Witness) -> None:
        """Keep the first countersignature of a checkpoint; later ones are ignored."""
        ...

    def witnesses(self, site: str) -> list[Witness]: ...

    def save_data_keys(self, site: str, keys: Sequence[DataKey]) -> None:
        """Replace the hub's copy of ``site``'s wrapped data keys."""
        ...

    def data_keys(self, site: str) -> list[DataKey]: ...

    def record_verification(self, v: VerificationRecord) -> None: ...

    def last_verification(self) -> VerificationRecord | None: ...


class ProjectionRefusedError(Exception):
    """The events link and verify, but a projection refused them (e.g. a duplicate key)."""


class HubStore(Protocol):
    """The hub's copy of the sites' logs."""

    def head(self, site: str) -> tuple[int, bytes]: ...

    def read_events(
        self, site: str, after_seq: int = 0, until_seq: int | None = None, batch: int = 5000
    ) -> Iterator[StoredEvent]: ...

    def checkpoints(self, site: str) -> list[Checkpoint]: ...

    def save_checkpoint(self, cp: Checkpoint) -> None: ...

    def import_events(
        self, site: str, events: Sequence[StoredEvent], project: bool = True
    ) -> Imported:
        """Append events this hub has just verified after the head; raise IntegrityError
        if they do not link to it (another writer moved it meanwhile).

        With ``project``, apply the projections in the same transaction, each event once
        the versions it saw are applied (else it and the rest of its log wait, and so on
        for the waiting logs it unblocks); raise :class:`ProjectionRefusedError` (nothing
        written) if a projection refuses the events. Return how many were stored and the
        logs left waiting for a fault (:class:`postex.eventlog.saw.Imported`).
        """
        ...

    def waiting(self) -> list[Wait]:
        """The logs whose projection waits on a version they saw."""
        ...


@dataclass
class Outcome:
    """What the hub did with one message."""

    stored: int = 0
    duplicates: int = 0
    gap_from: int | None = None
    fault: ChainFault | None = None
    # The events stored (verified, in order): what a follower reads for erasures.
    events: Sequence[StoredEvent] = field(default=(), repr=False, compare=False)


def joined_runs(runs: Sequence[Sequence[StoredEvent]]) -> list[list[StoredEvent]]:
    """``runs`` with each run that starts where the one before ends joined to it."""
    joined: list[list[StoredEvent]] = []
    for run in runs:
        if joined and run and joined[-1][-1].seq + 1 == run[0].seq:
            joined[-1].extend(run)
        elif run:
            joined.append(list(run))
    return joined


@dataclass
class Hub:
    """The hub's side: verify, store, witness, alarm. One instance per consumer."""

    store: HubStore
    state: ReplicationState
    signer: Signer
    trusted: Mapping[str, bytes]
    clock: Clock
    # Apply the projections to stored events (tracking for the whole network). Item ids
    # are unique across sites because each issues from its own serial sub-block.
    project: bool = True
    # Each site's trusted public keys by key id: only these sign that site's messages.
    site_keys: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    # Cosigns the tree head (C2SP tlog-cosignature) of each checkpoint it countersigns.
    tree_witness: CopyWitness | None = None
    _cps: dict[str, dict[int, Checkpoint]] = field(default_factory=dict)
    # The head of each copy as this hub last stored it (see :meth:`_extend_known`).
    _heads: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    # Refused messages: one aggregated alarm per source (docs/security.md).
    refusals: RefusalAlarms | None = None

    def __post_init__(self) -> None:
        if self.refusals is None:
            self.refusals = RefusalAlarms(self.state, self.clock)

    def _refusals(self) -> RefusalAlarms:
        assert self.refusals is not None  # set in __post_init__
        return self.refusals

    def known(self, site: str) -> bool:
        """Whether ``site`` is a site code the hub holds a trusted key for."""
        return site_code_ok(site) and bool(self.site_keys.get(site))

    def refuse_unknown(self, subject_site: str, what: str) -> None:
        """Count a message on the subject of a site the hub has no key for; it is ignored."""
        named = subject_site if site_code_ok(subject_site) else "(not a site code)"
        reason = f"{what} on {named}'s subject: no key trusted for that site"
        self._refusals().refuse(UNKNOWN_SOURCE, UNKNOWN_PUBLISHER, named, reason)

    def flush_alarms(self) -> None:
        """Bring the aggregated alarms' counts up to date."""
        self._refusals().flush()

    def _now(self) -> str:
        return format_time(self.clock.now())

    def _alarm(self, fault: ChainFault, kind: str) -> None:
        self.state.raise_alarm(fault.site, fault.seq, kind, fault.reason, self._now())

    def _checkpoints(self, site: str) -> dict[int, Checkpoint]:
        if site not in self._cps:
            self._cps[site] = {cp.seq: cp for cp in self.store.checkpoints(site)}
        return self._cps[site]

    def _refused(self, subject_site: str, claim: MessageClaim, reason: str, signed: bool) -> None:
        kind = BAD_SIGNATURE if signed else UNSIGNED
        latest = f"{claim.describe()} refused: {reason}"
        self._refusals().refuse(subject_site, kind, subject_site, latest)

    def _check_message(
        self, subject_site: str, claim: MessageClaim, sig: MessageSignature | None
    ) -> bool:
        """True if ``claim`` may be processed: the subject's site's trusted key signed it."""
        if claim.site != subject_site:
            reason = f"carries site {claim.site[:16]!r}'s {claim.kind} on {subject_site}'s subject"
        else:
            reason = message_refusal(claim, sig, self.site_keys) or ""
        if reason:
            self._refused(subject_site, claim, reason, sig is not None)
            return False
        return True

    def receive_signed_events(
        self, subject_site: str, data: bytes, sig: MessageSignature | None
    ) -> Outcome | None:
        """An events message off the wire: verify its signature first, then
        :meth:`receive_events`. None (and an alarm, nothing stored) if it is refused; a
        message that is not an events message at all raises ValidationError. On the subject
        of a site the hub has no key for it is only counted (:meth:`refuse_unknown`)."""
        events = self.check_signed_events(subject_site, data, sig)
        return None if events is None else self.receive_events(subject_site, events)

    def check_signed_events(
        self, subject_site: str, data: bytes, sig: MessageSignature | None
    ) -> list[StoredEvent] | None:
        """The events of a message off the wire whose signature the subject's site's trusted
        key made; None (counted or alarmed, as :meth:`receive_signed_events`) otherwise."""
        if not self.known(subject_site):
            self.refuse_unknown(subject_site, "events")
            return None
        site, events = decode_events(data)
        if not self._check_message(subject_site, events_claim(site, events, data), sig):
            return None
        return events

    def receive_runs(self, site: str, runs: Sequence[Sequence[StoredEvent]]) -> Outcome:
        """Checked runs of one site in arrival order (several messages fetched at once).
        Runs that follow on are received as one: one verification and one transaction
        instead of one per message, so a follower behind catches up faster the further
        behind it is. The outcomes add up: the first gap and the first fault are kept."""
        total = Outcome()
        stored: list[StoredEvent] = []
        for run in joined_runs(runs):
            out = self.receive_events(site, run)
            total.stored += out.stored
            total.duplicates += out.duplicates
            stored.extend(out.events)
            total.gap_from = total.gap_from if total.gap_from is not None else out.gap_from
            total.fault = total.fault or out.fault
        total.events = stored
        return total

    def receive_signed_keys(
        self, subject_site: str, data: bytes, sig: MessageSignature | None
    ) -> bool:
        """A keys message off the wire: kept only if the site's trusted key signed it."""
        if not self.known(subject_site):
            self.refuse_unknown(subject_site, "keys")
            return False
        site, keys = decode_keys(data)
        if not self._check_message(subject_site, keys_claim(site, data), sig):
            return False
        self.receive_keys(site, keys)
        return True

    def receive_events(self, site: str, events: Sequence[StoredEvent]) -> Outcome:
        """Store the events that extend the copy; report duplicates, a gap or a fault.

        Trusts that ``events`` come from ``site``: messages off the wire go through
        :meth:`receive_signed_events`.
        """
        out = Outcome()
        if any(e.site != site for e in events):
            out.fault = ChainFault(site, events[0].seq, "message carries another site's events")
            self._alarm(out.fault, "wrong-site")
            return out
        known = self._heads.pop(site, None)
        if known is not None and events and events[0].seq == known[0] + 1:
            quick = self._extend_known(site, events, known)
            if quick is not None:
                return quick
        return self._extend_stored(site, events)

    def _extend_stored(self, site: str, events: Sequence[StoredEvent]) -> Outcome:
        """Against the head read from the store: duplicates, a gap, a fault or new events."""
        out = Outcome()
        head_seq, head_hash = self.store.head(site)
        old = [e for e in events if e.seq <= head_seq]
        if old:
            ours = {
                e.seq: e.hash for e in self.store.read_events(site, old[0].seq - 1, old[-1].seq)
            }
            for e in old:
                if ours.get(e.seq) != e.hash:
                    out.fault = ChainFault(
                        site, e.seq, "site presents a history that differs from the hub's copy"
                    )
                    self._alarm(out.fault, "inconsistent-history")
                    return out
            out.duplicates = len(old)
        new = [e for e in events if e.seq > head_seq]
        if not new:
            return out
        if new[0].seq != head_seq + 1:
            out.gap_from = head_seq + 1
            return out
        chain = ChainState(site, head_seq, head_hash)
        fault = verify_events(chain, new)
        good = new[: chain.seq - head_seq]
        differs = self._checkpoint_fault(site, good)
        if differs is not None:
            fault, good = differs, good[: differs.seq - head_seq - 1]
        if good:
            out.stored = self._keep(site, good)
            out.events = good
        if fault is not None:
            out.fault = fault
            self._alarm(fault, "broken-chain")
        return out

    def _extend_known(
        self, site: str, events: Sequence[StoredEvent], head: tuple[int, bytes]
    ) -> Outcome | None:
        """The usual message: the run that links to the head this hub stored last, so the
        copy's head is not read again. Only a run that verifies whole is taken this way;
        anything else (a fault, a checkpoint that differs, another writer that moved the
        copy meanwhile: the store checks the link in its transaction and refuses) returns
        None, and the caller starts over from the head read from the store."""
        chain = ChainState(site, head[0], head[1])
        if verify_events(chain, events) is not None:
            return None
        if self._checkpoint_fault(site, events) is not None:
            return None
        try:
            stored = self._keep(site, events)
        except IntegrityError:
            return None
        return Outcome(stored=stored, events=events)

    def _checkpoint_fault(self, site: str, events: Sequence[StoredEvent]) -> ChainFault | None:
        """The first event that differs from a checkpoint the hub holds, as a fault."""
        cps = self._checkpoints(site)
        for e in events:
            cp = cps.get(e.seq)
            if cp is not None and cp.hash != e.hash:
                return ChainFault(site, e.seq, "event differs from a checkpoint the hub holds")
        return None

    def _keep(self, site: str, events: Sequence[StoredEvent]) -> int:
        """Store a verified run, remember the copy's new head, and countersign each
        checkpoint the run reaches."""
        stored = self._store(site, events)
        self._heads[site] = (events[-1].seq, events[-1].hash)
        cps = self._checkpoints(site)
        for e in events:
            cp = cps.get(e.seq)
            if cp is not None:
                self._witness(cp)
        return stored

    def _store(self, site: str, events: Sequence[StoredEvent]) -> int:
        """Store verified events with their projections; if a projection refuses them, the
        copy still comes first: store them unprojected and raise an alarm (fix the cause,
        e.g. two sites sharing a serial slot, then ``postex rebuild`` the hub)."""
        try:
            done = self.store.import_events(site, events, project=self.project)
        except ProjectionRefusedError as exc:
            done = self.store.import_events(site, events, project=False)
            first, last = events[0].seq, events[-1].seq
            reason = (
                f"events {first}-{last} stored but not projected ({exc}); "
                "fix the cause and run postex rebuild"
            )
            self._alarm(ChainFault(site, first, reason), PROJECTION_FAILED)
        # An alarm for each log held back by a ``saw`` whose hash differs from the event
        # applied here (docs/log-format.md, "Rules across logs"): the log keeps waiting.
        for wait in done.mismatched:
            fault = ChainFault(wait.site, wait.blocked.seq, wait.blocked.describe())
            self._alarm(fault, SAW_MISMATCH)
        for wait in done.refused:
            first = wait.projected_seq + 1
            reason = (
                f"events from {first} on are verified and stored, but a projection refused "
                "them when the versions they saw arrived; they keep waiting: fix the cause "
                "and run postex rebuild"
            )
            self._alarm(ChainFault(wait.site, first, reason), PROJECTION_FAILED)
        return done.stored

    def _checkpoint_signed(self, cp: Checkpoint) -> bool:
        """Whether a key trusted for ``cp``'s site signed it (else counted, or an alarm)."""
        if not self.known(cp.site):
            self.refuse_unknown(cp.site, "checkpoint")
            return False
        if not signature_valid(cp, self.trusted):
            latest = f"checkpoint {cp.seq} refused: signature is not valid"
            self._refusals().refuse(cp.site, BAD_SIGNATURE, cp.site, latest)
            return False
        if cp.key_id not in self.site_keys.get(cp.site, {}):
            reason = f"checkpoint signed by key {cp.key_id[:40]!r}, not a key trusted for the site"
            self._alarm(ChainFault(cp.site, cp.seq, reason), "bad-sig")
            return False
        return True

    def receive_checkpoint(self, cp: Checkpoint) -> Witness | None:
        """Keep a site checkpoint and countersign it once the copy reaches and agrees with it."""
        if not self._checkpoint_signed(cp):
            return None
        cps = self._checkpoints(cp.site)
        held = cps.get(cp.seq)
        if held is not None and held.hash != cp.hash:
            fault = ChainFault(cp.site, cp.seq, "checkpoint contradicts one the hub holds")
            self._alarm(fault, "inconsistent-history")
            return None
        head_seq, _ = self.store.head(cp.site)
        if cp.seq <= head_seq:
            ours = next(iter(self.store.read_events(cp.site, cp.seq - 1, cp.seq, batch=1)), None)
            if ours is None or ours.hash != cp.hash:
                fault = ChainFault(cp.site, cp.seq, "checkpoint contradicts the hub's copy")
                self._alarm(fault, "inconsistent-history")
                return None
        if held is None:
            self.store.save_checkpoint(cp)
            cps[cp.seq] = cp
        if cp.seq > head_seq:
            return None  # witnessed when the events arrive
        return self._witness(cp)

    def _witness(self, cp: Checkpoint) -> Witness:
        """Countersign a checkpoint the copy agrees with, and cosign its tree head."""
        w = countersign(self.signer, cp, self._now())
        self.state.save_witness(w)
        if self.tree_witness is not None:
            self.tree_witness.witness_copy(cp.site, cp.seq)
        return w

    def receive_keys(self, site: str, keys: Sequence[DataKey]) -> None:
        self.state.save_data_keys(site, keys)

    def receive_report(self, report: SiteReportedHead) -> None:
        self.state.record_report(report)
