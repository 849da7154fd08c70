"""Demo data: a few business customers and a few hundred realistic export items.

Names are invented; addresses use real postcode formats. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from postex.accounts.app.auth import Principal, Role
from postex.accounts.app.customers import create_customer, list_customers
from postex.accounts.app.partners import create_partner
from postex.accounts.app.portal_users import CustomerUserRepository, create_customer_user
from postex.accounts.app.staff import UserRepository, create_user
from postex.eventlog.context import Context
from postex.incidents.app.holds import place_hold
from postex.items.app.preadvice import ItemRecord, pre_advise
from postex.items.domain.items import parse_pre_advice
from postex.items.samples import demo_item
from postex.kernel.countries import country_name
from postex.kernel.network import Route
from postex.kernel.reference import services
from postex.sites.app import despatches as dsp
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from postex.sites.app.ops import SiteOps
from postex.sites.app.returns import return_to_sender
from postex.tracking.app.partner_events import ingest_partner_events, parse_json_batch

DEMO_CUSTOMERS = ["Thistle & Thread Ltd", "Cotswold Ceramics", "Brick Lane Books"]


@dataclass
class DemoResult:
    customers: int
    items: list[ItemRecord]


def seed_demo(ctx: Context, items_per_customer: int = 40, seed: int = 2023) -> DemoResult:
    """Create the demo customers and their items unless customers already exist."""
    if list_customers(ctx):
        return DemoResult(0, [])
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    made: list[ItemRecord] = []
    for name in DEMO_CUSTOMERS:
        customer = create_customer(ctx, name, actor="demo")
        advices = [parse_pre_advice(demo_item(rng)) for _ in range(items_per_customer)]
        made.extend(pre_advise(ctx, customer.record.id, advices))
    return DemoResult(len(DEMO_CUSTOMERS), made)


# Console sign-ins of the local demo only: fixed, printed passwords are fine for a node
# on 127.0.0.1 with made-up data, never for anything else.
DEMO_PASSWORD = "postex-demo-password"  # noqa: S105 - the demo's printed sign-in
DEMO_STAFF = (("clerk.demo", "clerk"), ("supervisor.demo", "supervisor"), ("ops.demo", "ops"),
              ("admin.demo", "admin"))  # fmt: skip


def seed_demo_staff(ctx: Context) -> list[tuple[str, str, str]]:
    """Create the demo staff users (site-bound ones at ``ctx.site``) unless they exist;
    returns (username, role, password) of each, for the demo to print."""
    for name, role in DEMO_STAFF:
        with ctx.store.read() as uow:
            exists = uow.repo(UserRepository).by_username(name) is not None
        if not exists:
            site = ctx.site if role in ("clerk", "supervisor") else None
            create_user(ctx, name, role, site, password=DEMO_PASSWORD,
                        actor={"kind": "demo", "id": "demo", "role": "admin"})  # fmt: skip
    return [(name, role, DEMO_PASSWORD) for name, role in DEMO_STAFF]


DEMO_SHOWN_STATES = ("pre_advised", "accepted", "in_receptacle", "despatched", "in_transit",
                     "delivered", "returned", "held")  # fmt: skip


@dataclass
class DemoDay:
    """What the demo's day left in each state, with one example id of each."""

    examples: dict[str, str]


def _principal(ctx: Context, username: str) -> Principal:
    with ctx.store.read() as uow:
        user = uow.repo(UserRepository).by_username(username)
    assert user is not None, f"demo user {username} missing"
    return Principal("staff", user.id, Role(user.role), "demo-day", site=user.site, name=username)


def _series_of(ops: SiteOps, items: list[ItemRecord]) -> list[tuple[Route, list[ItemRecord]]]:
    """The items grouped by the bag series they go in at this site, largest group first
    (items whose route leaves from another site are left out)."""
    groups: dict[tuple[str, str, str], tuple[Route, list[ItemRecord]]] = {}
    for item in items:
        route = ops.network.route(item.destination, services().get(item.service).mail_class)
        if route.origin != ops.ctx.site:
            continue
        key = (route.destination, route.category, route.subclass)
        groups.setdefault(key, (route, []))[1].append(item)
    return sorted(groups.values(), key=lambda g: (-len(g[1]), g[0].destination))


def _bag(ops: SiteOps, clerk: Principal, route: Route, items: list[ItemRecord], close: bool) -> str:
    bag = rcp.open_receptacle(ops, clerk, ops_site(clerk), route.destination, route.category,
                              route.subclass)  # fmt: skip
    rcp.add_items(ops, clerk, ops_site(clerk), bag.id, [i.id for i in items])
    if close:
        gross = sum(i.weight_g for i in items) + 300
        rcp.close_receptacle(ops, clerk, ops_site(clerk), bag.id, gross, True)
    return bag.id


def ops_site(p: Principal) -> str:
    assert p.site is not None
    return p.site


def _despatch(ops: SiteOps, boss: Principal, route: Route, bag: str, hand_over: bool) -> None:
    site = ops_site(boss)
    d = dsp.compose(ops, boss, site, [bag])
    carrier = route.carrier.code
    flight, today = f"{carrier}0117", ops.ctx.clock.now().date().isoformat()
    dsp.close_despatch(ops, boss, site, d.id, carrier, flight, today)
    if hand_over:
        dsp.hand_over(ops, boss, site, d.id, carrier, flight, today)


def _partner_says(ctx: Context, office: str, events: list[tuple[str, str]]) -> None:
    """The destination post reports ``(item id, event code)`` pairs, stamped now."""
    made = create_partner(ctx, f"Demo destination post ({office})", [office], actor={
        "kind": "demo", "id": "demo", "role": "admin"})  # fmt: skip
    p = Principal("partner", made.record.id, Role.PARTNER, made.key_id, offices=(office,))
    at = ctx.clock.now().isoformat(timespec="seconds")
    rows = parse_json_batch({"events": [
        {"item_id": item_id, "event_code": code, "occurred_at": at, "office": office}
        for item_id, code in events
    ]})  # fmt: skip
    ingest_partner_events(ctx, p, rows)


def seed_demo_day(ctx: Context, ops: SiteOps, items: list[ItemRecord]) -> DemoDay:
    """Take the demo's pre-advised items through a day at the site, so that every state a
    real day has is there to look at: pre-advised, accepted, in a bag, despatched, in
    transit, delivered, returned to its sender, and held under a public advisory."""
    clerk, boss = _principal(ctx, "clerk.demo"), _principal(ctx, "supervisor.demo")
    ops_lead = _principal(ctx, "ops.demo")
    site = ops_site(clerk)
    waiting, handed_in = items[: len(items) // 4], items[len(items) // 4 :]
    accept(ops, clerk, site, [Scan(i.id, i.weight_g) for i in handed_in])
    series = [(r, group) for r, group in _series_of(ops, handed_in) if len(group) >= 3]
    examples = {"pre_advised": waiting[0].id} if waiting else {}
    if len(series) < 4:
        return DemoDay(examples)
    (flown_route, flown), (closed_route, closed), (bag_route, bagged), (held_route, held) = series[
        :4
    ]
    _despatch(ops, boss, flown_route, _bag(ops, clerk, flown_route, flown, True), True)
    _despatch(ops, boss, closed_route, _bag(ops, clerk, closed_route, closed, True), False)
    _bag(ops, clerk, bag_route, bagged, False)
    delivered, travelling = flown[0], flown[1:]
    _partner_says(ctx, flown_route.destination,
                  [(delivered.id, "EMD"), (delivered.id, "EMI")]
                  + [(i.id, "EMD") for i in travelling])  # fmt: skip
    country = held_route.destination_country
    place_hold(ctx, ops_lead, {
        "scope": {"sites": [site], "destinations": [country]},
        "reason": "Demo: the destination's customs system is down",
        "advisory": f"Items to {country_name(country)} wait at our export centre while "
                    "customs there is unavailable. They leave as soon as it is back.",
        "emergency": True,
    })  # fmt: skip
    rest = [i for r, group in series[4:] for i in group]
    if len(rest) >= 2:
        return_to_sender(ops, boss, site, rest[1].id, "Demo: sender asked for it back")
    examples.update({
        "accepted": rest[0].id if rest else flown[0].id, "in_receptacle": bagged[0].id,
        "despatched": closed[0].id,
        "in_transit": travelling[0].id if travelling else flown[0].id,
        "delivered": delivered.id, "held": held[0].id,
        **({"returned": rest[1].id} if len(rest) >= 2 else {}),
    })  # fmt: skip
    return DemoDay(examples)


DEMO_SENDER = "sender.demo"


def seed_demo_sender(ctx: Context) -> tuple[str, str, str] | None:
    """Create the demo sender user (of the first demo customer) unless it exists; returns
    (username, business name, password) for the demo to print, or None without customers."""
    customers = [c for c in list_customers(ctx) if c.erased_at is None]
    if not customers:
        return None
    with ctx.store.read() as uow:
        found = uow.repo(CustomerUserRepository).by_username(DEMO_SENDER)
    owner = next((c for c in customers if found and c.id == found.customer_id), customers[0])
    if found is None:
        create_customer_user(ctx, owner.id, DEMO_SENDER, DEMO_PASSWORD,
                             actor={"kind": "demo", "id": "demo", "role": "admin"})  # fmt: skip
    return DEMO_SENDER, owner.name, DEMO_PASSWORD
