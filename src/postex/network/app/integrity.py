"""Verification of every site's log against its chain and signed checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from postex.eventlog.authlog import LogAuthority
from postex.eventlog.ports import Store
from postex.eventlog.verify import SiteAuth, SiteReport, verify_site_rows

PROGRESS_EVERY = 10_000


def verify_store(
    store: Store,
    trusted_keys: Mapping[str, bytes],
    site: str | None = None,
    progress: Callable[[int], None] | None = None,
    authority: LogAuthority | None = None,
) -> list[SiteReport]:
    """Verify one site or all; ``progress`` receives the number of events checked so far.

    With ``authority`` every site whose log key this node holds is also authenticated: the
    log must end exactly at its MAC'd head and reach its local anchor.
    """
    sites = [site] if site else store.sites()
    done = 0
    reports = []
    for s in sites:
        base = done

        def tick(n: int, base: int = base) -> None:
            if progress:
                progress(base + n)

        auth = site_auth(store, authority, s)
        report = verify_site_rows(
            s, store.read_rows(s), store.checkpoints(s), trusted_keys, tick, auth
        )
        done += report.events_checked
        reports.append(report)
    if progress:
        progress(done)
    return reports


def site_auth(store: Store, authority: LogAuthority | None, site: str) -> SiteAuth | None:
    """What authenticates ``site``'s log here, or None without its log key."""
    key = authority.key(site) if authority is not None else None
    if key is None or authority is None:
        return None
    return SiteAuth(key, store.log_head(site), authority.anchor(site))
