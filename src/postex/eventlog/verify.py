"""Verify one site's log against its chain and its signed checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from postex.eventlog.chain import ChainFault, ChainState, verify_rows
from postex.eventlog.checkpoints import signature_valid
from postex.eventlog.events import Checkpoint, EventRow, StoredEvent, rows_of


@dataclass
class SiteReport:
    site: str
    head_seq: int = 0
    events_checked: int = 0
    checkpoints_checked: int = 0
    faults: list[ChainFault] = field(default_factory=list)

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
) -> SiteReport:
    """:func:`verify_site_rows` for StoredEvent objects."""
    return verify_site_rows(site, rows_of(events), checkpoints, trusted_keys, tick)


def verify_site_rows(
    site: str,
    rows: Iterable[EventRow],
    checkpoints: Iterable[Checkpoint],
    trusted_keys: Mapping[str, bytes],
    tick: Callable[[int], None] | None = None,
) -> SiteReport:
    """Check every link and hash, then every checkpoint's signature and hash.

    A checkpoint beyond the last stored event means the log was truncated: the fault is
    reported at the first missing seq. ``tick`` receives progress (events checked).
    """
    report = SiteReport(site)
    cps = sorted(checkpoints, key=lambda c: c.seq)
    seen: dict[int, bytes] = {}
    state = ChainState(site)
    fault = verify_rows(state, rows, {cp.seq for cp in cps}, seen, tick)
    report.events_checked = state.checked
    if fault is not None:
        report.faults.append(fault)
    report.head_seq = state.seq
    for cp in cps:
        report.checkpoints_checked += 1
        if not signature_valid(cp, trusted_keys):
            report.faults.append(ChainFault(site, cp.seq, "checkpoint signature is not valid"))
        elif cp.seq > state.seq and fault is None:
            report.faults.append(
                ChainFault(
                    site, state.seq + 1, f"log ends at {state.seq} but checkpoint covers {cp.seq}"
                )
            )
        elif cp.seq in seen and seen[cp.seq] != cp.hash:
            report.faults.append(ChainFault(site, cp.seq, "event differs from signed checkpoint"))
    return report
