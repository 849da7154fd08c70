"""Verification of every site's log against its chain and signed checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from postex.app.ports import Store
from postex.eventlog.events import StoredEvent
from postex.eventlog.verify import SiteReport, verify_site

PROGRESS_EVERY = 10_000


def _counting(events: Iterable[StoredEvent], tick: Callable[[], None]) -> Iterator[StoredEvent]:
    for e in events:
        tick()
        yield e


def verify_store(
    store: Store,
    trusted_keys: Mapping[str, bytes],
    site: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[SiteReport]:
    """Verify one site or all; ``progress`` receives the number of events checked so far."""
    sites = [site] if site else store.sites()
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress and done % PROGRESS_EVERY == 0:
            progress(done)

    reports = [
        verify_site(s, _counting(store.read_events(s), tick), store.checkpoints(s), trusted_keys)
        for s in sites
    ]
    if progress:
        progress(done)
    return reports
