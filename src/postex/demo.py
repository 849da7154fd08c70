"""Demo data: a few business customers and a few hundred realistic export items.

Names are invented; addresses use real postcode formats. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from postex.accounts.app.customers import create_customer, list_customers
from postex.accounts.app.portal_users import CustomerUserRepository, create_customer_user
from postex.accounts.app.staff import UserRepository, create_user
from postex.eventlog.context import Context
from postex.items.app.preadvice import ItemRecord, pre_advise
from postex.items.domain.items import parse_pre_advice
from postex.items.samples import demo_item

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
DEMO_STAFF = (("clerk.demo", "clerk"), ("supervisor.demo", "supervisor"), ("ops.demo", "ops"))


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
