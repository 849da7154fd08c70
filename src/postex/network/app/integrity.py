"""Verification of every site's log against its chain and signed checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from postex.eventlog.authlog import LogAuthority
from postex.eventlog.chain import ChainFault
from postex.eventlog.checkpoints import keys_for_site, signature_valid
from postex.eventlog.events import Checkpoint
from postex.eventlog.ports import Store
from postex.eventlog.verify import SiteAuth, SiteReport, verify_site_rows
from postex.network.app.witness import Witness, witness_valid

PROGRESS_EVERY = 10_000


def verify_store(
    store: Store,
    trusted_keys: Mapping[str, bytes],
    site: str | None = None,
    progress: Callable[[int], None] | None = None,
    authority: LogAuthority | None = None,
    own_site: str | None = None,
    witnessed: Callable[[str], Collection[int]] | None = None,
) -> list[SiteReport]:
    """Verify one site or all; ``progress`` receives the number of events checked so far.

    With ``authority`` every site whose log key this node holds is also authenticated: the
    log must end exactly at its MAC'd head and reach its local anchor. With ``own_site``
    (this node's), every other log is a copy, which may be behind a checkpoint that came
    before its events (:func:`~postex.eventlog.verify.verify_site_rows`); ``witnessed``
    gives the seqs this node countersigned of a log (a hub's).
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
            s, store.read_rows(s), store.checkpoints(s), trusted_keys, tick, auth,
            copy=own_site is not None and s != own_site,
            witnessed=witnessed(s) if witnessed is not None else (),
        )  # fmt: skip
        done += report.events_checked
        reports.append(report)
    if progress:
        progress(done)
    return reports


def behind(report: SiteReport) -> str:
    """How ``postex verify`` says a copy is behind a checkpoint that came first ('' if not)."""
    if not report.behind_to:
        return ""
    return (f"; copy behind: a checkpoint covers seq {report.behind_to}, whose events have"
            " not arrived yet (replication lag, not a fault)")  # fmt: skip


def site_auth(store: Store, authority: LogAuthority | None, site: str) -> SiteAuth | None:
    """What authenticates ``site``'s log here, or None without its log key."""
    key = authority.key(site) if authority is not None else None
    if key is None or authority is None:
        return None
    return SiteAuth(key, store.log_head(site), authority.anchor(site))


def newest_witnessed(
    site: str,
    checkpoints: Sequence[Checkpoint],
    witnesses: Sequence[Witness],
    trusted: Mapping[str, bytes],
) -> Checkpoint | None:
    """The newest checkpoint of ``site`` signed by a key trusted for it and countersigned by
    a trusted witness (the hub): a head that left the site and was seen elsewhere."""
    site_keys = keys_for_site(trusted, site)
    for cp in sorted(checkpoints, key=lambda c: c.seq, reverse=True):
        if cp.site != site or not signature_valid(cp, site_keys):
            continue
        if any(w.seq == cp.seq and witness_valid(w, cp, trusted) for w in witnesses):
            return cp
    return None


def hub_fault(store: Store, site: str, witnessed: Checkpoint | None) -> ChainFault | None:
    """Whether the local log reaches, and agrees with, the checkpoint the hub witnessed:
    a tail cut inside the last checkpoint window, with the head row and anchor rolled back
    too, is found here (the hub's copy lies outside this host)."""
    if witnessed is None:
        return None
    head = store.head(site)[0]
    if head < witnessed.seq:
        return ChainFault(
            site,
            head + 1,
            f"log ends at {head} but the hub witnessed a checkpoint at {witnessed.seq}",
        )
    row = next(iter(store.read_rows(site, witnessed.seq - 1, witnessed.seq)), None)
    if row is None or bytes(row[6]) != witnessed.hash:
        return ChainFault(
            site, witnessed.seq, "event differs from the checkpoint the hub witnessed"
        )
    return None
