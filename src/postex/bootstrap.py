"""The composition root: the event catalogue, the projections and repositories in order,
the store, keys and use-case context built from settings, the background chores, and the
replication, backup and restore parts.

Nothing registers itself and nothing is built at import time: this module lists every
piece, and entry points call :func:`build` once. A :class:`Container` hands out ports; the
SQL adapter behind them stays here, where the other SQL adapters are wired from it.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from postex.accounts import events as accounts_events
from postex.accounts import session_events
from postex.accounts.app.auth import CredentialRepository
from postex.accounts.app.customers import CustomerRepository
from postex.accounts.app.partners import PartnerRepository
from postex.accounts.app.portal_users import CustomerUserRepository
from postex.accounts.app.rate_limits import RateWindows
from postex.accounts.app.sessions import (
    Console,
    SessionPolicy,
    StaffStatusRepository,
    TotpRepository,
    cleanup_chore,
)
from postex.accounts.app.staff import StaffPasswords, UserRepository
from postex.accounts.keys.key_encryption_key import KEK_FILE, KekProvider
from postex.accounts.keys.vault import EnvelopeVault
from postex.accounts.sql.credentials import SqlCredentials, credentials_p
from postex.accounts.sql.customers import NAMES_OPTION, SqlCustomers, SqlDataKeys, customers_p
from postex.accounts.sql.portal_users import SqlCustomerUsers
from postex.accounts.sql.sessions import (
    SqlSessions,
    SqlSignInThrottle,
    SqlStaffStatus,
    SqlTotp,
    SqlTotpSteps,
    staff_status_p,
    totp_p,
)
from postex.accounts.sql.staff_passwords import SqlStaffPasswords
from postex.config import Settings
from postex.edi import read_emsevt_csv
from postex.eventlog.authlog import LogAuthority
from postex.eventlog.catalogue import Catalogue
from postex.eventlog.chain import format_time
from postex.eventlog.checkpoints import TrustedKeys
from postex.eventlog.context import Context
from postex.eventlog.ports import Clock, DataKeys, LogAdmin, Progress, Rebuilder, Store
from postex.eventlog.sql.admin import SqlLogAdmin
from postex.eventlog.sql.engine import normalise_url, probe
from postex.eventlog.sql.projections import Projection, Projections
from postex.eventlog.sql.rebuild import SqlRebuilder
from postex.eventlog.sql.repositories import Repositories
from postex.eventlog.sql.row_mac import ROW_GUARD_OPTION, RowGuard
from postex.eventlog.sql.store import SqlStore, WriteObserver
from postex.incidents import events as incidents_events
from postex.incidents.app.advisories import AdvisoryRepository
from postex.incidents.app.audit_trail import AuditRepository
from postex.incidents.app.holds import activation_chore
from postex.incidents.app.policy import HoldPolicy, HoldRepository
from postex.incidents.sql import holds as _incidents  # noqa: F401
from postex.incidents.sql.audit_trail import SqlAudit, audit_p
from postex.incidents.sql.holds import SqlAdvisories, SqlHolds, advisories_p, holds_p
from postex.items import events as items_events
from postex.items.app.column_mapping import ColumnMappingRepository
from postex.items.app.customer_items import CustomerItemQueries
from postex.items.app.documents import Documents
from postex.items.app.idempotency import IdempotencyRepository, expiry_chore
from postex.items.app.preadvice import ItemRepository, SerialRanges
from postex.items.documents import PdfDocuments
from postex.items.sql import core as _core  # noqa: F401
from postex.items.sql import customer_api as _customer_api  # noqa: F401
from postex.items.sql import serials as _serials  # noqa: F401
from postex.items.sql.core import SqlItems, SqlTracking, items_p
from postex.items.sql.customer_api import (
    SqlCustomerItems,
    SqlIdempotency,
    SqlRateWindows,
    customer_api_p,
)
from postex.items.sql.portal import SqlColumnMappings
from postex.items.sql.serials import SqlSerialRanges
from postex.items.sql.versions import versions_p
from postex.kernel.clock import SystemClock
from postex.kernel.errors import ConfigurationError, IntegrityError, KeyUnavailableError
from postex.kernel.network import SerialSlot, load_network
from postex.kernel.private import private_dir
from postex.kernel.reference import services
from postex.network import events as network_events
from postex.network.app import node_role
from postex.network.app.node_role import RecordedRole, SlotOverlap, slot_error, slot_overlaps
from postex.network.log_keys import FileLogAuthority, load_or_create_row_key
from postex.network.signing import FileSigner, load_or_create_signer, trusted_keys
from postex.network.sql import tables as _replication  # noqa: F401
from postex.sites import events as sites_events
from postex.sites.app.failover import FailoverRepository
from postex.sites.app.ops import ActiveFailovers, SiteOps, SiteOpsRepository, SiteRules
from postex.sites.documents import PdfEdiSiteDocuments
from postex.sites.sql import projections as _site_ops  # noqa: F401
from postex.sites.sql.failover import SqlFailovers, failover_p
from postex.sites.sql.projections import site_p
from postex.sites.sql.queries import SqlSiteOps, SqlUsers
from postex.tracking import events as tracking_events
from postex.tracking.app.partner_events import FileReader, PartnerEventRepository
from postex.tracking.app.public import PublicTrackingRepository, TrackingRepository
from postex.tracking.app.webhooks import WebhookRepository, WebhookSender, deliver_due

# Keep last: it announces to webhooks the tracking rows the projections above have written.
from postex.tracking.sql import projection as _tracking_ops  # noqa: F401
from postex.tracking.sql.announce import HUB_OPTION, OWN_LOG_OPTION
from postex.tracking.sql.partners import SqlPartnerEvents, SqlPartners
from postex.tracking.sql.projection import SqlPublicTracking, tracking_ops_p
from postex.tracking.sql.webhooks import SqlWebhooks
from postex.tracking.webhook_sender import HttpWebhookSender

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from postex.eventlog.saw import Wait
    from postex.network.app.cosigning import CopyWitness
    from postex.network.app.hub import Hub
    from postex.network.backup.files import BackupChain, FileBackupWriter
    from postex.network.nats.consumer import HubConsumer
    from postex.network.nats.follower import NodeFollower
    from postex.network.nats.publisher import JetStreamPublisher
    from postex.network.restore_sources import HubStoreSource, NatsHubSource
    from postex.network.sql.health import SqlAcceptanceCounts
    from postex.network.sql.hub import HubCopy


__all__ = ["Container", "build", "load_kek", "normalise_url"]
_T = TypeVar("_T")

_security = logging.getLogger("postex.security")

# Every stored event type this node reads and writes, and the upcasters of old versions.
CATALOGUE = Catalogue(
    [
        *accounts_events.EVENTS,
        *session_events.EVENTS,
        *items_events.EVENTS,
        *sites_events.EVENTS,
        *incidents_events.EVENTS,
        *tracking_events.EVENTS,
        *network_events.EVENTS,
    ],
    [*accounts_events.UPCASTERS, *sites_events.UPCASTERS],
)

# The projections, in the order each run of events goes through them. Order matters where
# two touch the same rows: items before the site and tracking projections that update item
# states; tracking_ops last, since it announces to webhooks the tracking rows the others wrote.
PROJECTIONS: tuple[Projection, ...] = (
    credentials_p,
    totp_p,
    staff_status_p,
    customers_p,
    items_p,
    customer_api_p,
    audit_p,
    holds_p,
    advisories_p,
    failover_p,
    site_p,
    versions_p,  # after the projections that change items: each item's version
    tracking_ops_p,
)

# Which SQL class answers each query port of the app layer.
REPOSITORIES: Repositories = {
    CredentialRepository: SqlCredentials,
    ItemRepository: SqlItems,
    CustomerRepository: SqlCustomers,
    TrackingRepository: SqlTracking,
    DataKeys: SqlDataKeys,
    IdempotencyRepository: SqlIdempotency,
    CustomerItemQueries: SqlCustomerItems,
    AuditRepository: SqlAudit,
    HoldRepository: SqlHolds,
    AdvisoryRepository: SqlAdvisories,
    SerialRanges: SqlSerialRanges,
    SiteOpsRepository: SqlSiteOps,
    FailoverRepository: SqlFailovers,
    ActiveFailovers: SqlFailovers,
    UserRepository: SqlUsers,
    TotpRepository: SqlTotp,
    StaffStatusRepository: SqlStaffStatus,
    PartnerRepository: SqlPartners,
    PartnerEventRepository: SqlPartnerEvents,
    WebhookRepository: SqlWebhooks,
    PublicTrackingRepository: SqlPublicTracking,
    CustomerUserRepository: SqlCustomerUsers,
    StaffPasswords: SqlStaffPasswords,
    ColumnMappingRepository: SqlColumnMappings,
}


def projections() -> Projections:
    return Projections(CATALOGUE, PROJECTIONS)


def open_store(url: str, clock: Clock, **options: Any) -> SqlStore:
    """A store on ``url`` with this node's projections and repositories (no keys, no role)."""
    return SqlStore(url, clock, projections(), REPOSITORIES, **options)


@dataclass
class Container:
    """A wired node: its settings, the log's ports, keys and the use-case context."""

    settings: Settings
    store: Store
    rebuilder: Rebuilder
    admin: LogAdmin
    kek: KekProvider
    vault: EnvelopeVault
    signer: FileSigner
    ctx: Context
    _sql: SqlStore = field(repr=False)  # behind the ports; the wiring here reads it
    documents: Documents = field(default_factory=PdfDocuments)
    partner_file_reader: FileReader = read_emsevt_csv  # EMSEVT flat files from partners
    webhook_sender_factory: Callable[[bool], WebhookSender] = HttpWebhookSender  # allow_private

    @property
    def engine(self) -> Engine:
        """The database: for benchmarks and drills that work below the ports."""
        return self._sql.engine

    def observe_writes(self, observer: WriteObserver) -> None:
        """Tell ``observer`` of each committed write that appended events (the metrics)."""
        self._sql.observer = observer

    @functools.cached_property
    def site_ops(self) -> SiteOps:
        """Acceptance, receptacles and despatches: the context plus site rules and documents."""
        s = self.settings
        rules = SiteRules(s.weight_tolerance_pct, s.receptacle_limit_g)
        return SiteOps(self.ctx, PdfEdiSiteDocuments(), rules)

    @functools.cached_property
    def rate_windows(self) -> RateWindows:
        """Rate-limit windows shared by every server process on this database."""
        return SqlRateWindows(self._sql.engine)

    @property
    def shares_rate_limits(self) -> bool:
        """Whether customer keys' rate limits use :attr:`rate_windows` (shared by every
        process) rather than one process's memory: ``api_rate_scope`` "shared", or "auto"
        on PostgreSQL (on SQLite each shared check is a write that waits behind appends)."""
        scope = self.settings.api_rate_scope
        return scope == "shared" or (scope == "auto" and self._sql.is_postgres)

    @functools.cached_property
    def console(self) -> Console:
        """Staff console sign-in: sessions and throttling in this node's database."""
        s = self.settings
        policy = SessionPolicy(
            s.console_idle_minutes * 60,
            s.console_session_hours * 3600,
            s.console_max_failures,
            s.console_lockout_minutes * 60,
        )
        engine = self._sql.engine
        # The sign-in form's CSRF tokens are signed with a key derived from the KEK, so every
        # process of the node accepts them (a KEK rotation only means reloading the form).
        form_key = hmac.new(self.kek.active()[1], b"postex.console.sign-in-form", "sha256")
        return Console(self.ctx, SqlSessions(engine), SqlSignInThrottle(engine), policy,
                       SqlTotpSteps(engine), form_key.digest())  # fmt: skip

    def trusted_keys(self) -> TrustedKeys:
        """Every trusted public key, and for which site each signs checkpoints."""
        return trusted_keys(self.settings.keys_dir)

    @property
    def authority(self) -> LogAuthority:
        """The sites' log keys and local anchors (the authenticated log)."""
        return self._sql.authority

    def cut_off_since(self) -> str | None:
        """On a site: since when it has heard from no other node (None while in touch, and
        on a node that follows nobody). The public status page shows it."""
        if self.settings.role != "site":
            return None
        from postex.network.app.follower import network_view

        rep = replication(self)
        view = network_view(self.store, rep.state, self.settings.site, [], rep.now())
        since: str | None = view["cut_off_since"]
        return since

    def close(self) -> None:
        self._sql.dispose()


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
        private_dir(settings.home)
        private_dir(settings.keys_dir)
    kek = load_kek(settings.keys_dir, create=create)
    signers: dict[str, FileSigner] = {}

    def signer_for(site: str) -> FileSigner | None:
        # A single node plays every site of the network, so it signs for each; a site
        # node signs only its own log; a hub signs nothing of the sites' (it witnesses).
        if site not in signers and settings.role == "single":
            signers[site] = load_or_create_signer(settings.keys_dir, site)
        return signers.get(site)

    def holds_log_key(site: str) -> bool:
        # The same sites as signer_for: a single node every site it plays, otherwise only
        # the node's own log (a hub checks the sites' copies by their signatures).
        return site == settings.site or settings.role == "single"

    authority = FileLogAuthority(settings.keys_dir, holds_log_key)
    clock = clock or SystemClock()
    store = open_store(
        settings.db_url, clock, signer_for=signer_for, checkpoint_every=settings.checkpoint_every,
        authority=authority,
    )  # fmt: skip
    problem = probe(store.engine)
    if problem is not None:
        store.dispose()
        raise problem
    claiming = create if claim is None else claim
    try:
        if create:
            store.migrate()
        # The node's site and role are its database's (node_role), never a default; the
        # closures above read `settings` when called, so they see the node's own.
        settings = node_settings(store, settings, may_record=create or claiming)
    except BaseException:
        store.dispose()
        raise
    signer = load_or_create_signer(settings.keys_dir, settings.site)
    signers[settings.site] = signer
    if create:
        authority.key(settings.site)  # `postex init` makes the log key with the others
    store.add_fault_listener(functools.partial(_alarm_unauthenticated, store, clock))
    vault = EnvelopeVault(kek)
    forged = functools.partial(_alarm_forged_row, store, clock, settings.site)
    guard = RowGuard(load_or_create_row_key(settings.keys_dir), forged)
    store.engine.update_execution_options(
        **{ROW_GUARD_OPTION: guard, NAMES_OPTION: vault.open_with}
    )
    if settings.role == "hub":  # the sites deliver their webhooks: the hub queues none
        store.engine.update_execution_options(**{HUB_OPTION: True})
    if settings.role == "site":  # it follows other nodes' logs: it announces only its own
        store.engine.update_execution_options(**{OWN_LOG_OPTION: settings.site})
    # A node of a network (a site, the hub, a gateway) issues S10 ids only from its own
    # part of each serial block: no two nodes can issue the same id.
    slot = load_network().serial_slot(settings.site) if settings.role != "single" else None
    ctx = Context(
        store=store, vault=vault, clock=clock, site=settings.site, country=settings.country,
        serial_slot=slot,
    )  # fmt: skip
    ctx.policies.append(HoldPolicy(clock))
    c = Container(
        settings, store, SqlRebuilder(store), SqlLogAdmin(store), kek, vault, signer, ctx,
        _sql=store,
    )  # fmt: skip
    if claiming:
        try:
            claim_role(c)
        except BaseException:
            c.close()
            raise
    if create and _rows_without_mac(store):
        _remac_by_rebuild(c)
    return c


def node_settings(store: SqlStore, settings: Settings, *, may_record: bool) -> Settings:
    """``settings`` with the node's site and role read from its database (node_role).

    A given site or role that contradicts the record is refused (ConfigurationError);
    see :func:`postex.network.app.node_role.identify`.
    """
    from postex.network.sql.node_roles import SqlNodeRoles

    roles = SqlNodeRoles(store)
    recorded = roles.recorded() if roles.has_table() else None
    role, site = node_role.identify(
        recorded, settings.role, settings.site, role_given=settings.is_given("role"),
        site_given=settings.is_given("site"), may_record=may_record or not roles.has_table(),
    )  # fmt: skip
    if (role, site) == (settings.role, settings.site):
        return settings
    return replace(settings, role=role, site=site)


def _rows_without_mac(store: SqlStore) -> bool:
    """Whether credential or staff rows lack a row MAC (written before migration 0022)."""
    from sqlalchemy import select

    from postex.accounts.sql.credentials import credentials
    from postex.sites.sql.projections import staff_users

    with store.engine.connect() as conn:
        return any(
            conn.execute(select(t.c.mac).where(t.c.mac.is_(None)).limit(1)).first() is not None
            for t in (credentials, staff_users)
        )


def _remac_by_rebuild(c: Container) -> None:
    """After the upgrade to row MACs (`postex init`): rebuild the projections once from the
    authenticated log, which writes every row's MAC (a rebuild refuses an unauthenticated
    log, so no row is blessed that the log does not hold)."""
    try:
        if c.settings.role == "hub":
            replication(c).rebuild_hub()
        else:
            c.rebuilder.rebuild()
    except BaseException:
        c.close()
        raise


def _alarm_unauthenticated(store: SqlStore, clock: Clock, exc: IntegrityError) -> None:
    """A write refused because the log moved without the site's log key: an alarm."""
    from postex.network.sql.state import SqlReplicationState

    SqlReplicationState(store).raise_alarm(
        exc.site or "", exc.seq or 0, "unauthenticated-log", exc.detail, format_time(clock.now())
    )


def _alarm_forged_row(
    store: SqlStore, clock: Clock, site: str, table: str, row_id: str, in_write: bool
) -> None:
    """A credential or staff row that does not carry the projection's MAC was refused: one
    security line and a ``forged-row`` alarm (names the table and row id, never a secret).
    Inside a write transaction the alarm is written by a thread once that one has ended."""
    from postex.network.sql.state import SqlReplicationState

    detail = f"{table} row {row_id[:40]} lacks the projection's MAC: written outside Postex"
    _security.warning("refused %s (run `postex verify`, then `postex rebuild`)", detail)

    def raise_alarm() -> None:
        try:
            SqlReplicationState(store).raise_alarm(
                site, 0, "forged-row", detail, format_time(clock.now())
            )
        except Exception:  # the refusal stands; the line above was logged
            _security.exception("could not record the forged-row alarm")

    if in_write:
        threading.Thread(target=raise_alarm, name="postex-forged-row", daemon=True).start()
    else:
        raise_alarm()


def network_fit(
    c: Container, site: str | None = None, issued_by: str | None = None
) -> tuple[RecordedRole | None, SerialSlot, list[SlotOverlap]]:
    """The recorded role, ``site``'s (default: the node's) serial slot and the ids held
    outside it (``issued_by``: only those pre-advised in that node's log)."""
    from postex.network.sql.node_roles import SqlIssuedSerials, SqlNodeRoles

    slot = load_network().serial_slot(site or c.settings.site)
    issued = SqlIssuedSerials(c._sql, issued_by)
    found = slot_overlaps(issued, services().by_code.values(), slot)
    return SqlNodeRoles(c._sql).recorded(), slot, found


def claim_role(c: Container) -> RecordedRole:
    """Check the configured role against the database's (recording it if it has none).

    A site also checks that the ids its database holds lie in its serial slot. Raises
    ConfigurationError naming both roles, or the service, slot and offending range.
    """
    from postex.network.sql.node_roles import SqlNodeRoles

    s = c.settings

    def check_slot() -> None:
        if s.role == "site":
            # A site already recorded as one also holds the items other nodes issued
            # (fan-out): only the ids of its own log must lie in its slot. A database
            # becoming a site (single before) is checked whole.
            recorded = SqlNodeRoles(c._sql).recorded()
            own = s.site if recorded is not None and recorded.role == "site" else None
            _, slot, found = network_fit(c, issued_by=own)
            if found:
                raise slot_error(s.site, slot, found)

    at = format_time(c.ctx.clock.now())
    return node_role.claim_role(SqlNodeRoles(c._sql), s.role, s.site, at, check_slot)


# --- background chores ---------------------------------------------------------------------
@dataclass(frozen=True)
class Chore:
    """A background job done in rounds: ``run`` does one bounded round and returns how many
    things it did (0: nothing was due). ``done`` names those things in a summary."""

    name: str
    done: str
    run: Callable[[], int]


def chores(c: Container) -> list[Chore]:
    """The node's background chores, in the order each round runs them.

    ``postex serve`` runs them in its worker (unless ``webhook_worker_seconds`` is 0) and
    ``postex worker`` as a process of its own. Signing checkpoints is not one of them: it
    runs on a clock of its own (in ``serve`` and in the publisher), not in rounds, and
    ``serve`` signs once more as it stops.
    """
    s = c.settings
    sender = c.webhook_sender_factory(s.webhook_allow_private)
    return [
        Chore(
            "webhook delivery", "delivery attempts", functools.partial(deliver_due, c.ctx, sender)
        ),
        Chore(
            "idempotency expiry",
            "expired idempotency answers purged",
            expiry_chore(c.ctx, s.idempotency_retention_hours),
        ),
        Chore("scheduled hold activation", "scheduled holds activated", activation_chore(c.ctx)),
        Chore(
            "console clean-up",
            "expired console sessions and stale sign-in throttle rows deleted",
            cleanup_chore(c.console),
        ),
    ]


# --- replication, backup and restore -------------------------------------------------------
class Replication:
    """A node's replication, backup and restore parts, each built here from its settings.

    The NATS and backup adapters are imported when a part is first asked for, so commands
    that replicate nothing never load them.
    """

    def __init__(self, c: Container) -> None:
        from postex.network.app.wire import Subjects
        from postex.network.sql.state import SqlReplicationState

        self._c = c
        self.subjects = Subjects(c.settings.nats_prefix)
        self.state = SqlReplicationState(c._sql)

    def now(self) -> str:
        return format_time(self._c.ctx.clock.now())

    def acceptance_counts(self) -> SqlAcceptanceCounts:
        """Items accepted per site and hour (the network health page)."""
        from postex.network.sql.health import SqlAcceptanceCounts

        return SqlAcceptanceCounts(self._c._sql)

    def publisher(self) -> JetStreamPublisher:
        """The site's publisher, woken by every commit of the site."""
        from postex.network.nats.access import access_from, limits_from
        from postex.network.nats.publisher import JetStreamPublisher
        from postex.network.signing import site_keys

        c, s = self._c, self._c.settings
        pub = JetStreamPublisher(
            c._sql, c.admin, self.state, s.site, s.nats_url, c.ctx.clock, self.subjects,
            checkpoint_seconds=s.checkpoint_seconds, signer=c.signer, access=access_from(s),
            limits=limits_from(s), trusted_senders=_cached(lambda: site_keys(s.keys_dir)),
            replay_interval_s=s.replay_interval_seconds,
        )  # fmt: skip
        pub.attach()
        return pub

    def hub(self, trusted: Mapping[str, bytes]) -> Hub:
        """The hub over a fresh view of its copies; the keys directory says which trusted
        key signs for which site."""
        from postex.network.app.hub import Hub
        from postex.network.signing import site_keys

        c = self._c
        by_site = site_keys(c.settings.keys_dir)
        hub = Hub(self._copies(), self.state, c.signer, trusted, c.ctx.clock, site_keys=by_site)
        hub.tree_witness = self.tree_witness()
        return hub

    def tree_witness(self) -> CopyWitness:
        """The hub's tree witness: cosigns the tree heads of the copies it verified."""
        from postex.eventlog.chain import format_time
        from postex.eventlog.notes import ORIGIN_HOST
        from postex.eventlog.sql.notes import SqlNotes
        from postex.eventlog.sql.proofs import SqlProofs
        from postex.network.app.cosigning import CopyWitness, TreeWitness

        c, state = self._c, self.state
        clock = c.ctx.clock

        def alarm(site: str, seq: int, kind: str, detail: str) -> None:
            state.raise_alarm(site, seq, kind, detail, format_time(clock.now()))

        witness = TreeWitness(
            f"{ORIGIN_HOST}/witness/{c.settings.site}", c.signer, SqlNotes(c.engine), alarm,
            lambda: int(clock.now().timestamp()), lambda: format_time(clock.now()),
        )  # fmt: skip
        return CopyWitness(witness, SqlProofs(c._sql))

    def consumer(self, trusted: Mapping[str, bytes]) -> HubConsumer:
        from postex.network.nats.access import access_from, limits_from
        from postex.network.nats.consumer import HubConsumer

        s = self._c.settings
        return HubConsumer(
            self.hub(trusted), s.nats_url, self.subjects, access=access_from(s),
            limits=limits_from(s), name=s.site,
        )  # fmt: skip

    def follower(self, trusted: Mapping[str, bytes]) -> NodeFollower:
        """This node following every other node's log (verified as the hub does, no witness);
        other nodes' data keys are taken only where this node holds their KEK."""
        from postex.network.app.follower import Follower
        from postex.network.nats.access import access_from, limits_from
        from postex.network.nats.follower import NodeFollower
        from postex.network.signing import site_keys
        from postex.network.sql.follower import FollowedLogs, SqlKeyShelf

        c = self._c

        def opens(kek_id: str) -> bool:
            try:
                c.kek.get(kek_id)
            except KeyUnavailableError:
                return False
            return True

        shelf = SqlKeyShelf(c._sql, opens, self.now)
        logs = FollowedLogs(c._sql, c.admin, c.rebuilder)
        f = Follower(
            c.settings.site, logs, self.state, shelf, c.ctx.clock, trusted,
            site_keys(c.settings.keys_dir),
        )  # fmt: skip
        return NodeFollower(
            f, c.settings.nats_url, self.subjects, signer=c.signer,
            access=access_from(c.settings), limits=limits_from(c.settings),
        )  # fmt: skip

    def rebuild_hub(self, progress: Progress | None = None) -> int:
        """``postex rebuild`` on a hub: the projections replayed in the order the copies
        arrived (the order the hub applied them live)."""
        return self._copies().rebuild(progress)

    def backup_writer(self) -> FileBackupWriter:
        from postex.network.backup.files import FileBackupWriter

        c = self._c
        return FileBackupWriter(
            c.store, c.admin, self.state, c.signer, self.now(), authority=c.authority
        )

    @staticmethod
    def backup_reader(directory: Path) -> BackupChain:
        """A backup, full or incremental (with the backups it rests on)."""
        from postex.network.backup.files import BackupChain

        return BackupChain(directory)

    def hub_source(self, hub_db: str, clock: Clock) -> HubStoreSource:
        """The hub's database as a restore source, read with this node's projections."""
        from postex.network.restore_sources import HubStoreSource
        from postex.network.sql.state import SqlReplicationState

        store = open_store(hub_db, clock)
        return HubStoreSource(store, SqlReplicationState(store))

    def nats_source(
        self, url: str | None = None, timeout: float = 15.0, attempts: int | None = None
    ) -> NatsHubSource:
        """The hub's copy over NATS from ``postex hub consume`` (default: ``nats_url``);
        ``attempts`` bounds the connection attempts (default: nats-py's)."""
        from postex.network.nats.access import access_from
        from postex.network.restore_sources import NatsHubSource

        c = self._c
        return NatsHubSource(
            url or c.settings.nats_url, self.subjects, c.settings.site, c.signer, c.ctx.clock,
            timeout, attempts, access_from(c.settings),
        )  # fmt: skip

    async def delete_stream(self) -> bool:
        from postex.network.nats.access import access_from
        from postex.network.nats.jetstream import delete_stream

        s = self._c.settings
        return await delete_stream(s.nats_url, self.subjects, access_from(s))

    def waiting(self) -> list[Wait]:
        """The logs whose projection waits on a version they saw (docs/log-format.md)."""
        return self._copies().waiting()

    def _copies(self) -> HubCopy:
        from postex.network.sql.hub import HubCopy

        c = self._c
        return HubCopy(c._sql, c.admin, c.rebuilder)


def _cached(read: Callable[[], _T], seconds: float = 5.0) -> Callable[[], _T]:
    """``read``'s answer, read again at most every ``seconds`` (a key newly trusted counts
    within that time; a flood of forged requests does not read the key directory each)."""
    held: list[tuple[float, _T]] = []

    def get() -> _T:
        now = time.monotonic()
        if not held or now - held[0][0] > seconds:
            held[:] = [(now, read())]
        return held[0][1]

    return get


def replication(c: Container) -> Replication:
    """The node's replication, backup and restore services (NATS, files, hub copies)."""
    return Replication(c)
