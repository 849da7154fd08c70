"""The composition root: builds the store, keys and use-case context from settings.

Nothing is built at import time; entry points call :func:`build` once.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from postex.accounts.app.rate_limits import RateWindows
from postex.accounts.keys.kek import KEK_FILE, KekProvider
from postex.accounts.keys.vault import EnvelopeVault

# Feature modules register their projections and repositories when imported.
from postex.accounts.sql import credentials as _auth  # noqa: F401
from postex.config import Settings
from postex.edi import read_emsevt_csv
from postex.eventlog.chain import format_time
from postex.eventlog.context import Context
from postex.eventlog.ports import Clock
from postex.eventlog.sql.store import EventBatch, SqlStore, normalise_url
from postex.incidents.app.policy import HoldPolicy
from postex.incidents.sql import holds as _incidents  # noqa: F401
from postex.items.app.documents import Documents
from postex.items.documents import PdfDocuments
from postex.items.sql import core as _core  # noqa: F401
from postex.items.sql import customer_api as _customer_api  # noqa: F401
from postex.items.sql import serials as _serials  # noqa: F401
from postex.items.sql.customer_api import SqlRateWindows
from postex.kernel.clock import SystemClock
from postex.kernel.errors import ConfigurationError
from postex.kernel.network import SerialSlot, load_network
from postex.kernel.reference import services
from postex.network import sql as _replication  # noqa: F401
from postex.network.app import node_role
from postex.network.app.node_role import RecordedRole, SlotOverlap, slot_error, slot_overlaps
from postex.network.signing import FileSigner, load_or_create_signer, trusted_keys
from postex.sites.app.ops import SiteOps, SiteRules
from postex.sites.documents import PdfEdiSiteDocuments
from postex.sites.sql import projections as _site_ops  # noqa: F401
from postex.tracking.app.partner_events import FileReader
from postex.tracking.app.webhooks import WebhookSender

# Keep last: it announces to webhooks the tracking rows the projections above have written.
from postex.tracking.sql import projection as _tracking_ops  # noqa: F401
from postex.tracking.sql.announce import HUB_OPTION
from postex.tracking.webhook_sender import HttpWebhookSender

if TYPE_CHECKING:
    from postex.network.nats.kit import Replication


__all__ = ["Container", "EventBatch", "build", "load_kek", "normalise_url"]


@dataclass
class Container:
    settings: Settings
    store: SqlStore
    kek: KekProvider
    vault: EnvelopeVault
    signer: FileSigner
    ctx: Context
    extras: dict[str, object] = field(default_factory=dict)
    documents: Documents = field(default_factory=PdfDocuments)
    partner_file_reader: FileReader = read_emsevt_csv  # EMSEVT flat files from partners
    webhook_sender_factory: Callable[[bool], WebhookSender] = HttpWebhookSender  # allow_private

    @functools.cached_property
    def site_ops(self) -> SiteOps:
        """Acceptance, receptacles and despatches: the context plus site rules and documents."""
        s = self.settings
        rules = SiteRules(s.weight_tolerance_pct, s.receptacle_limit_g)
        return SiteOps(self.ctx, PdfEdiSiteDocuments(), rules)

    @functools.cached_property
    def rate_windows(self) -> RateWindows:
        """Rate-limit windows shared by every server process on this database."""
        return SqlRateWindows(self.store.engine)

    def trusted_keys(self) -> dict[str, bytes]:
        return trusted_keys(self.settings.keys_dir)

    def close(self) -> None:
        self.store.dispose()


def load_kek(keys_dir: Path, create: bool = False) -> KekProvider:
    env = os.environ.get("POSTEX_KEK")
    if env:
        return KekProvider.from_env_value(env)
    path = keys_dir / KEK_FILE
    if not path.exists():
        if not create:
            raise ConfigurationError(
                f"no key-encryption key: {path} is missing and POSTEX_KEK is unset; "
                "run `postex init` first"
            )
        return KekProvider.create_file(path)
    return KekProvider.from_file(path)


def build(
    settings: Settings,
    *,
    create: bool = False,
    clock: Clock | None = None,
    claim: bool | None = None,
) -> Container:
    """Wire a node. ``create`` makes missing key files and migrates the database.

    ``claim`` (default: ``create``) checks the configured role against the one recorded in
    the database, recording it if there is none (see :func:`claim_role`).
    """
    if create:
        settings.home.mkdir(parents=True, exist_ok=True)
        settings.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    kek = load_kek(settings.keys_dir, create=create)
    signer = load_or_create_signer(settings.keys_dir, settings.site)
    signers = {settings.site: signer}

    def signer_for(site: str) -> FileSigner | None:
        # A single node plays every site of the network, so it signs for each; a site
        # node signs only its own log; a hub signs nothing of the sites' (it witnesses).
        if site not in signers and settings.role == "single":
            signers[site] = load_or_create_signer(settings.keys_dir, site)
        return signers.get(site)

    clock = clock or SystemClock()
    store = SqlStore(
        settings.db_url, clock, signer_for=signer_for, checkpoint_every=settings.checkpoint_every
    )
    if create:
        store.migrate()
    if settings.role == "hub":  # the sites deliver their webhooks: the hub queues none
        store.engine.update_execution_options(**{HUB_OPTION: True})
    vault = EnvelopeVault(kek)
    # A site of a network issues S10 ids only from its own part of each serial block.
    slot = load_network().serial_slot(settings.site) if settings.role == "site" else None
    ctx = Context(
        store=store, vault=vault, clock=clock, site=settings.site, country=settings.country,
        serial_slot=slot,
    )  # fmt: skip
    ctx.policies.append(HoldPolicy(clock))
    c = Container(settings, store, kek, vault, signer, ctx)
    if create if claim is None else claim:
        try:
            claim_role(c)
        except BaseException:
            c.close()
            raise
    return c


def network_fit(c: Container) -> tuple[RecordedRole | None, SerialSlot, list[SlotOverlap]]:
    """The recorded role, the configured site's serial slot and the ids held outside it."""
    from postex.network.sql import SqlIssuedSerials, SqlNodeRoles

    slot = load_network().serial_slot(c.settings.site)
    found = slot_overlaps(SqlIssuedSerials(c.store), services().by_code.values(), slot)
    return SqlNodeRoles(c.store).recorded(), slot, found


def claim_role(c: Container) -> RecordedRole:
    """Check the configured role against the database's (recording it if it has none).

    A site also checks that the ids its database holds lie in its serial slot. Raises
    ConfigurationError naming both roles, or the service, slot and offending range.
    """
    from postex.network.sql import SqlNodeRoles

    s = c.settings

    def check_slot() -> None:
        if s.role == "site":
            _, slot, found = network_fit(c)
            if found:
                raise slot_error(s.site, slot, found)

    at = format_time(c.ctx.clock.now())
    return node_role.claim_role(SqlNodeRoles(c.store), s.role, s.site, at, check_slot)


def replication(c: Container) -> Replication:
    """The node's replication, backup and restore services (NATS, files, hub copies)."""
    from postex.network.app.replication import Subjects
    from postex.network.nats.kit import Replication

    return Replication(
        c.store, c.signer, c.ctx.clock, c.settings.site, c.settings.nats_url,
        Subjects(c.settings.nats_prefix), c.settings.checkpoint_seconds, c.settings.keys_dir,
    )  # fmt: skip
