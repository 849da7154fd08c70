"""The append loop the log benchmarks share: pre-advice events as the use case makes them.

The events are made once by the real pre-advice code (personal data already sealed); each
timed append then builds every event the way pre-advice builds it, one constructor call
with a fresh S10 id, and appends ``batch`` of them per transaction.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import astuple

from postex.accounts.app.customers import create_customer
from postex.bootstrap import Container
from postex.items.app.preadvice import pre_advised
from postex.items.domain.items import parse_pre_advice
from postex.items.events import ItemPreAdvised
from postex.items.samples import demo_item
from postex.kernel.ids import S10


def preadvice_appender(c: Container, batch: int) -> Callable[[int], None]:
    """``append(transactions)``: that many transactions of ``batch`` pre-advised items each,
    on ``c``'s own log, with S10 ids counting up from a range no demo uses."""
    rng = random.Random(7)
    advices = [parse_pre_advice(demo_item(rng)) for _ in range(batch)]
    customer = create_customer(c.ctx, "Bench Exports Ltd").record.id
    with c.store.write(c.settings.site) as uow:
        made = [pre_advised(c.ctx, uow, customer, "LA000000000GB", a) for a in advices]
    templates = [astuple(m)[1:] for m in made]  # every field but the item id
    serial = 10_000_000

    def append(transactions: int) -> None:
        nonlocal serial
        for _ in range(transactions):
            with c.store.write(c.settings.site) as uow:
                evs = []
                for t in templates:
                    serial += 1
                    evs.append(ItemPreAdvised(str(S10("LB", serial, "GB")), *t))
                uow.append(evs)

    return append
