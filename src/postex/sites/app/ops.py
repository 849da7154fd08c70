"""What site operations share: rules, the documents port, records and the query port.

Use cases take a :class:`SiteOps` (built once by bootstrap) instead of a bare Context,
because they also need the site rules and a renderer of forms and EDI messages.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from postex.accounts.app.auth import Principal, Role, require_roles, require_site
from postex.eventlog.context import Context
from postex.items.app.preadvice import ItemRecord
from postex.kernel.errors import ForbiddenError, NotFoundError, ValidationError
from postex.kernel.network import Network, Site, load_network
from postex.sites.domain.failover import effective_routes
from postex.sites.domain.receptacles import DEFAULT_LIMIT_G

SITE_ROLES = (Role.CLERK, Role.SUPERVISOR, Role.OPS, Role.ADMIN)
SUPERVISING_ROLES = (Role.SUPERVISOR, Role.OPS, Role.ADMIN)
READING_ROLES = (*SITE_ROLES, Role.AUDITOR)
MAX_PAGE = 1000
# Where a page of a list ended: (opened_at or composed_at, id) of its last row.
Position = tuple[str, str]


def check_listing(state: str | None, states: Sequence[str], limit: int | None) -> None:
    """A list's filter and page size: a known state, 1 to MAX_PAGE rows (ValidationError)."""
    if state is not None and state not in states:
        raise ValidationError.single("state", "enum", state, f"state is one of {', '.join(states)}")
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise ValidationError.single("limit", "range", limit, f"limit is 1 to {MAX_PAGE}")


@dataclass(frozen=True)
class SiteRules:
    weight_tolerance_pct: int = 10
    receptacle_limit_g: int = DEFAULT_LIMIT_G
    max_batch: int = 5000


@dataclass(frozen=True)
class HandlingRecord:
    item_id: str
    site: str
    measured_g: int
    receptacle_id: str | None
    despatch_id: str | None
    carrier_status: str | None
    # Set while the item travels to another of our sites (sent, not yet scanned in there).
    transfer_to: str | None = None


@dataclass(frozen=True)
class ReceptacleRecord:
    id: str
    site: str
    destination: str
    category: str
    subclass: str
    state: str
    opened_at: str
    closed_at: str | None
    item_count: int
    content_g: int
    gross_weight_g: int | None
    s9: str | None
    despatch_id: str | None
    carrier_status: str | None


@dataclass(frozen=True)
class DespatchRecord:
    id: str
    site: str
    destination: str
    category: str
    subclass: str
    year_digit: int
    serial: int
    state: str
    form: str
    composed_at: str
    closed_at: str | None
    carrier: str | None
    flight: str | None
    flight_date: str | None
    departs_at: str | None
    handed_over_at: str | None
    receptacle_count: int
    item_count: int
    gross_weight_g: int
    custody_at: str | None
    delivered_at: str | None


@dataclass(frozen=True)
class MessageRecord:
    despatch_id: str
    kind: str
    part: str
    customer_id: str | None
    content: str
    sealed: bool
    created_at: str


class SiteOpsRepository(Protocol):
    """Queries of the site projections. Every query names the site it reads."""

    def items(self, item_ids: Sequence[str]) -> dict[str, ItemRecord]: ...

    def handling(self, item_ids: Sequence[str]) -> dict[str, HandlingRecord]: ...

    def receptacle(self, site: str, receptacle_id: str) -> ReceptacleRecord | None: ...

    def receptacle_by_s9(self, s9: str) -> ReceptacleRecord | None: ...

    def receptacles(
        self,
        site: str,
        state: str | None = None,
        despatch_id: str | None = None,
        after: Position | None = None,
        limit: int | None = None,
    ) -> list[ReceptacleRecord]:
        """Oldest opened first (by serial within a despatch); ``after`` a page's last row."""
        ...

    def receptacle_items(self, receptacle_id: str) -> list[HandlingRecord]: ...

    def despatch_items(self, despatch_id: str) -> list[HandlingRecord]: ...

    def pending(
        self, site: str, series: tuple[str, str, str], year_digit: int, serial: int
    ) -> list[ReceptacleRecord]:
        """Closed receptacles numbered into a despatch that is not composed yet."""
        ...

    def last_despatch_serial(
        self, site: str, series: tuple[str, str, str], year_digit: int
    ) -> int | None: ...

    def despatch(self, site: str, despatch_id: str) -> DespatchRecord | None: ...

    def despatches(
        self,
        site: str,
        state: str | None = None,
        after: Position | None = None,
        limit: int | None = None,
    ) -> list[DespatchRecord]:
        """Oldest composed first; ``after`` a page's last row."""
        ...

    def messages(self, despatch_id: str, kind: str | None = None) -> list[MessageRecord]: ...


@dataclass(frozen=True)
class Transport:
    carrier: str
    flight: str
    flight_date: date
    departs_at: datetime | None = None  # the scheduled departure, when it was given


@dataclass(frozen=True)
class CarrierReport:
    """One carrier receipt (RESDIT) on a receptacle: 74 in custody, 21 delivered."""

    s9: str
    code: str
    occurred_at: str
    location: str


class SiteDocuments(Protocol):
    """Renders the forms and EDI messages of site operations (PDF and XML adapters)."""

    def cn35(self, r: ReceptacleRecord, carrier: str) -> bytes: ...

    def despatch_bill(
        self, d: DespatchRecord, receptacles: Sequence[ReceptacleRecord], on: date
    ) -> bytes: ...

    def predes(
        self,
        d: DespatchRecord,
        receptacles: Sequence[tuple[ReceptacleRecord, Sequence[str]]],
        transport: Transport,
        message_id: str,
        prepared_at: str,
    ) -> bytes: ...

    def itmatt(
        self,
        items: Sequence[tuple[ItemRecord, dict[str, Any]]],
        sender: str,
        recipient: str,
        message_id: str,
        prepared_at: str,
    ) -> bytes: ...

    def cardit(
        self,
        d: DespatchRecord,
        receptacles: Sequence[ReceptacleRecord],
        transport: Transport,
        message_id: str,
        prepared_at: str,
    ) -> bytes: ...

    def read_resdit(self, data: bytes) -> list[CarrierReport]:
        """Parse a RESDIT document; ValidationError for anything malformed."""
        ...


class ActiveFailovers(Protocol):
    """The failovers in force: lost site -> survivor (the ``active_failovers`` table)."""

    def active(self) -> dict[str, str]: ...


ROUTING_REFRESH_S = 0.25  # how stale the effective routing may be (a tiny query each time)


def effective_network(plan: Network, active: Mapping[str, str]) -> Network:
    """``plan`` with every route of a failed-over site leaving from its survivor."""
    if not active:
        return plan
    return Network(plan.sites, effective_routes(plan.routes, active), plan.serial_slots,
                   plan.gateways)  # fmt: skip


@dataclass
class SiteOps:
    ctx: Context
    docs: SiteDocuments
    rules: SiteRules = field(default_factory=SiteRules)
    plan: Network = field(default_factory=load_network)  # the network file's routing
    _routing: tuple[float, tuple[tuple[str, str], ...], Network] | None = field(
        default=None, init=False, repr=False
    )

    @property
    def network(self) -> Network:
        """The effective routing: the network file's, with every route of a failed-over
        site leaving from its survivor. Read again at most every 0.25 s (and at once after
        :meth:`forget_routing`), so a failover followed from another node applies within
        a quarter of a second of its arrival."""
        now = time.monotonic()
        cached = self._routing
        if cached is not None and now - cached[0] < ROUTING_REFRESH_S:
            return cached[2]
        with self.ctx.store.read() as uow:
            active = uow.repo(ActiveFailovers).active()
        key = tuple(sorted(active.items()))
        net = cached[2] if cached is not None and cached[1] == key else None
        if net is None:
            net = effective_network(self.plan, active)
        self._routing = (now, key, net)
        return net

    def forget_routing(self) -> None:
        """Read the failovers in force again on the next routing question."""
        self._routing = None

    def site(self, p: Principal, code: str, roles: Sequence[Role]) -> Site:
        """The site ``code`` if ``p`` may act there in one of ``roles``.

        Unknown sites and other sites of a site-bound user are both 404; a role that may
        not do this is 403.
        """
        if not p.is_staff:
            raise ForbiddenError("site routes are for staff tokens", rule="kind")
        try:
            site = self.plan.site(code)
        except ValidationError:
            raise NotFoundError(f"no site {code}") from None
        require_site(p, code)
        require_roles(p, *roles)
        return site
