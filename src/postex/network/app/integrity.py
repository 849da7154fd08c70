"""Verification of every site's log against its chain and signed checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from postex.eventlog.ports import Store
from postex.eventlog.verify import SiteReport, verify_site_rows

PROGRESS_EVERY = 10_000


def verify_store(
    store: Store,
    trusted_keys: Mapping[str, bytes],
    site: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[SiteReport]:
    """Verify one site or all; ``progress`` receives the number of events checked so far."""
    sites = [site] if site else store.sites()
    done = 0
    reports = []
    for s in sites:
        base = done

        def tick(n: int, base: int = base) -> None:
            if progress:
                progress(base + n)

        report = verify_site_rows(s, store.read_rows(s), store.checkpoints(s), trusted_keys, tick)
        done += report.events_checked
        reports.append(report)
    if progress:
        progress(done)
    return reports
