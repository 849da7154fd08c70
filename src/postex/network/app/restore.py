"""Rebuild a wiped site from the hub's copy of its log or from a backup.

Every event's link and hash is checked as it is imported; every checkpoint's signature
must come from a key trusted for that site and agree with the events; the log must reach the
newest checkpoint (no truncation); from the hub, the newest checkpoint must also carry
the hub's valid countersignature. Anything wrong and the target is wiped again and
:class:`IntegrityError` names the first bad seq: a tampered copy is never restored.
The projections are built as the events come back (the target starts empty), the restore
is audited in the log, and the site resumes writing at the next seq. The restored log's
authenticated head is written afresh under the site's log key (the copy is vouched for by
its checkpoints), and the local anchor moves to it once the copy agreed with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from postex.accounts.app.audit import audit_event
from postex.accounts.app.customers import CustomerRepository
from postex.eventlog.authlog import Anchor
from postex.eventlog.checkpoints import keys_for_site, signature_valid
from postex.eventlog.events import Checkpoint, StoredEvent
from postex.eventlog.ports import DataKeys, LogAdmin, Progress, Store
from postex.kernel.errors import IntegrityError
from postex.network.app.hub import ReplicationState
from postex.network.app.wire import DataKey
from postex.network.app.witness import Witness, witness_valid

SITE_RESTORED = "site.restored"  # the audit action


class RestoreSource(Protocol):
    """Where a site's log comes back from: the hub's store or a backup directory."""

    kind: str  # "hub" or "backup"

    def head(self, site: str) -> int: ...

    def batches(self, site: str) -> Iterator[Sequence[StoredEvent]]: ...

    def checkpoints(self, site: str) -> list[Checkpoint]: ...

    def witnesses(self, site: str) -> list[Witness]: ...

    def data_keys(self, site: str) -> list[DataKey]: ...


@dataclass(frozen=True)
class RestoreReport:
    site: str
    source: str
    events: int
    head_seq: int
    checkpoint_seq: int
    witnessed: bool
    data_keys: int
    seconds: float


def _refuse(admin: LogAdmin, detail: str, site: str, seq: int | None) -> IntegrityError:
    admin.wipe()
    return IntegrityError(f"restore refused: {detail}", site=site, seq=seq)


def _check_anchor(target: Store, admin: LogAdmin, site: str, head: int) -> Anchor | None:
    """The local anchor (the newest head this node wrote before the loss); the copy
    must agree with it where it reaches it."""
    anchor = admin.anchor(site)
    if anchor is not None and 0 < anchor.seq <= head:
        at_anchor = next(iter(target.read_events(site, anchor.seq - 1, anchor.seq)), None)
        if at_anchor is None or at_anchor.hash != anchor.hash:
            raise _refuse(
                admin, "the copy differs from the head this node last wrote (its local anchor)",
                site, anchor.seq,
            )  # fmt: skip
    return anchor


def _drop_erased_keys(target: Store, site: str, offered: set[str]) -> int:
    """Destroy the restored keys of customers the log says were erased (an erasure in the
    log wins over a key an old copy still holds); how many."""
    with target.read() as uow:
        erased = {c.id for c in uow.repo(CustomerRepository).list() if c.erased_at}
    held = sorted(erased & offered)
    if held:
        with target.write(site) as uow:
            for customer_id in held:
                uow.repo(DataKeys).destroy(customer_id)
    return len(held)


def restore_site(
    target: Store,
    admin: LogAdmin,
    state: ReplicationState,
    site: str,
    source: RestoreSource,
    trusted: Mapping[str, bytes],
    now: Callable[[], str],
    progress: Progress | None = None,
    actor: str = "cli",
) -> RestoreReport:
    """Restore ``site`` into an empty ``target`` (copied in and wiped through ``admin``, the
    same log); raise IntegrityError (target wiped) if refused."""
    started = time.perf_counter()
    if target.head(site)[0] != 0:
        raise IntegrityError(f"restore refused: the target already holds a log for {site}")
    cps = sorted(source.checkpoints(site), key=lambda c: c.seq)
    site_keys = keys_for_site(trusted, site)  # only the site's own keys sign its checkpoints
    for cp in cps:
        if cp.site != site or not signature_valid(cp, site_keys):
            raise _refuse(
                admin, f"a checkpoint is not signed by a key trusted for {site}", site, cp.seq
            )
    wanted = {cp.seq: cp.hash for cp in cps}
    # The wrapped data keys go in first, so the projections open the accounts' sealed names
    # as the events come in; the keys of customers the log says were erased leave below.
    offered = source.data_keys(site)
    keys = admin.import_data_keys(offered)
    done = 0
    for batch in source.batches(site):
        try:
            admin.import_events(site, batch)  # projections are built as the log returns
        except IntegrityError as exc:
            raise _refuse(admin, f"the copy is broken: {exc.detail}", site, exc.seq) from None
        for ev in batch:
            want = wanted.get(ev.seq)
            if want is not None and want != ev.hash:
                raise _refuse(admin, "an event differs from a signed checkpoint", site, ev.seq)
        done += len(batch)
        if progress:
            progress(done)
    head = target.head(site)[0]
    newest = cps[-1] if cps else None
    if newest is not None and newest.seq > head:
        raise _refuse(
            admin, f"the copy ends at {head} but a signed checkpoint covers {newest.seq}",
            site, head + 1,
        )  # fmt: skip
    witnesses = source.witnesses(site)
    witnessed = newest is not None and any(
        w.seq == newest.seq and witness_valid(w, newest, trusted) for w in witnesses
    )
    if source.kind == "hub" and head and not witnessed:
        raise _refuse(
            admin, "the newest checkpoint carries no valid countersignature of a trusted hub",
            site, newest.seq if newest else None,
        )  # fmt: skip
    anchor = _check_anchor(target, admin, site, head)
    for cp in cps:
        admin.save_checkpoint(cp)
    for w in witnesses:
        state.save_witness(w)
    keys -= _drop_erased_keys(target, site, {k[0] for k in offered})
    state.set_acked(site, head if source.kind == "hub" else 0, now())
    details = {"source": source.kind, "events": done, "head_seq": head}
    lost = anchor is not None and anchor.seq > head  # events after the copy's end are lost
    details.update({"anchor_seq": anchor.seq} if lost and anchor is not None else {})
    # The verified copy, with a fresh authenticated head, is the log now: the anchor moves
    # back to it before the next write (which would otherwise be refused below the anchor).
    admin.reanchor(site)
    with target.write(site) as uow:
        uow.append([audit_event({"kind": "system", "id": actor}, SITE_RESTORED, site, "", details)])
    return RestoreReport(
        site, source.kind, done, head, newest.seq if newest else 0, witnessed, keys,
        time.perf_counter() - started,
    )  # fmt: skip
