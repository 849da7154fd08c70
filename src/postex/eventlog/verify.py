"""Verify one site's log against its chain and its signed checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from postex.eventlog.authlog import (
    Anchor,
    LogHead,
    LogKey,
    anchor_fault,
    head_fault,
    missing_head_fault,
)
from postex.eventlog.chain import ZERO_HASH, ChainFault, ChainState, verify_rows
from postex.eventlog.checkpoints import keys_for_site, signature_valid
from postex.eventlog.events import Checkpoint, EventRow, StoredEvent, rows_of
from postex.kernel.errors import IntegrityError


@dataclass(frozen=True)
class SiteAuth:
    """What authenticates a site's log on this node: its log key, the authenticated head
    row as stored and the local anchor (postex.eventlog.authlog)."""

    key: LogKey
    head: LogHead | None
    anchor: Anchor | None


@dataclass
class SiteReport:
    site: str
    head_seq: int = 0
    events_checked: int = 0
    checkpoints_checked: int = 0
    faults: list[ChainFault] = field(default_factory=list)
    # None: no log key here (a hub's copy: signatures only); False: no authenticated head
    # yet (a new or just-upgraded log, trusted on first use) or a fault.
    authenticated: bool | None = None
    # A copy of another node's log whose newest checkpoint arrived before its events: the
    # seq that checkpoint covers (0: none ahead). Replication lag, not a fault.
    behind_to: int = 0

    @property
    def ok(self) -> bool:
        return not self.faults

    @property
    def first_fault(self) -> ChainFault | None:
        return min(self.faults, key=lambda f: f.seq) if self.faults else None


def verify_site(
    site: str,
    events: Iterable[StoredEvent],
    checkpoints: Iterable[Checkpoint],
    trusted_keys: Mapping[str, bytes],
    tick: Callable[[int], None] | None = None,
    auth: SiteAuth | None = None,
) -> SiteReport:
    """:func:`verify_site_rows` for StoredEvent objects."""
    return verify_site_rows(site, rows_of(events), checkpoints, trusted_keys, tick, auth)


def verify_site_rows(
    site: str,
    rows: Iterable[EventRow],
    checkpoints: Iterable[Checkpoint],
    trusted_keys: Mapping[str, bytes],
    tick: Callable[[int], None] | None = None,
    auth: SiteAuth | None = None,
    copy: bool = False,
    witnessed: Collection[int] = (),
) -> SiteReport:
    """Check every link and hash, then every checkpoint's signature and hash, then (with
    ``auth``) that the log ends exactly at its authenticated head and reaches its anchor.

    A checkpoint beyond the last stored event means the log was truncated: the fault is
    reported at the first missing seq. On a ``copy`` of another node's log it means the
    checkpoint came before its events (they travel apart): ``behind_to``, not a fault,
    unless this node countersigned it (``witnessed``: a hub witnesses a checkpoint only
    once its copy holds the events, so a copy now short of one lost them). Checkpoints
    count only when signed by a key trusted for ``site`` (``trusted_keys`` may be
    :class:`TrustedKeys`). ``tick`` receives progress (events checked).
    """
    report = SiteReport(site)
    cps = sorted(checkpoints, key=lambda c: c.seq)
    seen: dict[int, bytes] = {}
    state = ChainState(site)
    watch = {cp.seq for cp in cps}
    if auth is not None and auth.anchor is not None:
        watch.add(auth.anchor.seq)
    fault = verify_rows(state, rows, watch, seen, tick)
    report.events_checked = state.checked
    if fault is not None:
        report.faults.append(fault)
    report.head_seq = state.seq
    site_keys = keys_for_site(trusted_keys, site)
    matched = 0  # the newest seq a valid checkpoint vouches for
    for cp in cps:
        report.checkpoints_checked += 1
        if cp.site != site or not signature_valid(cp, site_keys):
            reason = (
                f"checkpoint is signed by a key not trusted for {site}"
                if signature_valid(cp, trusted_keys)
                else "checkpoint signature is not valid"
            )
            report.faults.append(ChainFault(site, cp.seq, reason))
        elif cp.seq > state.seq and fault is None and copy and cp.seq not in witnessed:
            report.behind_to = max(report.behind_to, cp.seq)
        elif cp.seq > state.seq and fault is None:
            report.faults.append(
                ChainFault(
                    site, state.seq + 1, f"log ends at {state.seq} but checkpoint covers {cp.seq}"
                )
            )
        elif cp.seq in seen and seen[cp.seq] != cp.hash:
            report.faults.append(ChainFault(site, cp.seq, "event differs from signed checkpoint"))
        elif cp.seq in seen:
            matched = cp.seq
    if auth is not None and fault is None:
        report.authenticated = _authenticate(report, auth, state, seen, matched)
    return report


def _authenticate(
    report: SiteReport, auth: SiteAuth, state: ChainState, seen: dict[int, bytes], matched: int
) -> bool:
    """Compare the recomputed end of the chain with the authenticated head and the anchor."""
    site = report.site
    problems = []
    if auth.head is None:
        found = missing_head_fault(auth.anchor, state.seq)
    else:
        found = head_fault(auth.key, auth.head, state.seq, state.hash)
    if found is not None:
        seq, reason = found
        if reason.endswith("(history rewritten)"):
            # The head's MAC holds but the chain ends elsewhere: an event at or before the
            # head changed, after the newest checkpoint that still matches.
            seq = matched + 1
            reason += f": an event in {matched + 1}..{state.seq} was changed"
        problems.append(ChainFault(site, seq, reason))
    if auth.anchor is not None:
        hit = seen.get(auth.anchor.seq) if auth.anchor.seq else None
        found = anchor_fault(auth.key, auth.anchor, state.seq, hit)
        if found is not None:
            problems.append(ChainFault(site, *found))
    report.faults.extend(problems)
    return auth.head is not None and not problems


class LogChecker:
    """Checks a site's log as it streams past in order (a backup reads it anyway): every
    link and hash, then (:meth:`finish`) the authenticated head and the anchor.

    ``start`` is where the stream begins (an incremental backup: the base's head, checked
    when the base was written). Raises IntegrityError on the first fault.
    """

    def __init__(
        self, site: str, auth: SiteAuth | None, start: tuple[int, bytes] | None = None
    ) -> None:
        self.auth = auth
        self.state = ChainState(site, *(start or (0, ZERO_HASH)))
        self.seen: dict[int, bytes] = {}
        self.watch = {auth.anchor.seq} if auth is not None and auth.anchor is not None else set()

    def feed(self, events: Iterable[StoredEvent]) -> None:
        fault = verify_rows(self.state, rows_of(events), self.watch, self.seen)
        if fault is not None:
            raise IntegrityError(fault.reason, site=fault.site, seq=fault.seq)

    def finish(self) -> None:
        if self.auth is None:
            return
        report = SiteReport(self.state.site)
        if (
            self.auth.anchor is not None
            and self.auth.anchor.seq <= self.state.seq - self.state.checked
        ):
            # the anchor lies in the part checked before (an incremental's base): trust it there
            self.seen.setdefault(self.auth.anchor.seq, self.auth.anchor.hash)
        _authenticate(report, self.auth, self.state, self.seen, 0)
        fault = report.first_fault
        if fault is not None:
            raise IntegrityError(fault.reason, site=fault.site, seq=fault.seq)
