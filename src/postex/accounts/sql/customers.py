"""Customers projection and the repositories of customer accounts and their data keys.

The data keys are not a projection: they live outside the log (a wrapped key per
customer), so that erasure can destroy them; a rebuild leaves them as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from postex.accounts.app.customers import CustomerRecord, name_aad
from postex.accounts.events import CustomerCreated, CustomerErased
from postex.eventlog.canonical import decode
from postex.eventlog.events import StoredEvent
from postex.eventlog.ports import DataKeys
from postex.eventlog.sql import schema
from postex.eventlog.sql.fast import executemany
from postex.eventlog.sql.projections import projection
from postex.kernel.errors import KeyUnavailableError

customers_p = projection("customers", schema.customers)

# Engine execution option set by the composition root: the vault's ``open_with``, which
# opens an account's sealed name with the data keys of the projection's own connection.
# Without it (a store opened only to read) and for an erased account, the name is empty.
NAMES_OPTION = "postex_open_sealed"
Opener = Callable[[DataKeys, str, str, str], dict[str, Any]]


def account_name(conn: Connection, event: CustomerCreated) -> str:
    """The account's name: v1's in clear, v2's opened under the account's data key."""
    if event.name is not None:
        return event.name
    opener: Opener | None = conn.get_execution_options().get(NAMES_OPTION)
    if opener is None or not event.sealed_name:
        return ""
    try:
        opened = opener(SqlDataKeys(conn), event.customer_id, name_aad(event.customer_id),
                        event.sealed_name)  # fmt: skip
    except KeyUnavailableError:
        return ""  # erased: the name is gone with the data key
    return str(opened.get("name", ""))


def reopen_names(conn: Connection, customer_ids: Sequence[str]) -> int:
    """Fill in the names that could not be opened when projected: a follower may project
    another node's ``customer.created.v2`` before that customer's data key arrives. Called
    when keys arrive, so the live table ends as a rebuild (keys present) makes it."""
    t, ev = schema.customers, schema.events
    blank = {
        r[0]
        for r in conn.execute(
            select(t.c.id).where(
                t.c.id.in_(list(customer_ids)), t.c.name == "", t.c.erased_at.is_(None)
            )
        )
    }
    filled = 0
    if not blank:
        return 0
    for (body,) in conn.execute(select(ev.c.body).where(ev.c.type == CustomerCreated.TYPE)):
        d = decode(body)
        if d.get("customer_id") not in blank:
            continue
        event = CustomerCreated(
            customer_id=d["customer_id"], sealed_name=d.get("sealed_name", ""), actor=""
        )
        name = account_name(conn, event)
        if name:
            conn.execute(t.update().where(t.c.id == event.customer_id).values(name=name))
            filled += 1
    return filled


@customers_p.on(CustomerCreated)
def _customer_created(conn: Connection, events: Sequence[StoredEvent[CustomerCreated]]) -> None:
    executemany(
        conn,
        "INSERT INTO customers (id, name, created_at, erased_at) VALUES (?, ?, ?, NULL)",
        [(e.event.customer_id, account_name(conn, e.event), e.recorded_at) for e in events],
    )


@customers_p.on(CustomerErased)
def _customer_erased(conn: Connection, events: Sequence[StoredEvent[CustomerErased]]) -> None:
    # The name may be a sole trader's: erased with the account. (customer.created.v2 seals
    # it under the destroyed data key; bodies of the v1 events, written before, hold it in
    # clear and cannot be rewritten.)
    executemany(
        conn,
        "UPDATE customers SET erased_at = ?, name = '' WHERE id = ?",
        [(e.recorded_at, e.event.customer_id) for e in events],
    )


class SqlCustomers:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, customer_id: str) -> CustomerRecord | None:
        t = schema.customers
        row = self.conn.execute(select(t).where(t.c.id == customer_id)).first()
        return CustomerRecord(row.id, row.name, row.created_at, row.erased_at) if row else None

    def list(self) -> list[CustomerRecord]:
        t = schema.customers
        rows = self.conn.execute(select(t).order_by(t.c.created_at, t.c.id))
        return [CustomerRecord(r.id, r.name, r.created_at, r.erased_at) for r in rows]


class SqlDataKeys:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, customer_id: str) -> tuple[str, bytes] | None:
        t = schema.data_keys
        row = self.conn.execute(
            select(t.c.kek_id, t.c.wrapped).where(t.c.customer_id == customer_id)
        ).first()
        return (row[0], bytes(row[1])) if row else None

    def put(self, customer_id: str, kek_id: str, wrapped: bytes) -> None:
        t = schema.data_keys
        done = self.conn.execute(
            update(t).where(t.c.customer_id == customer_id).values(kek_id=kek_id, wrapped=wrapped)
        )
        if done.rowcount == 0:
            self.conn.execute(
                t.insert().values(
                    customer_id=customer_id, kek_id=kek_id, wrapped=wrapped,
                    created_at=datetime.now().astimezone().isoformat(timespec="seconds"),
                )
            )  # fmt: skip

    def destroy(self, customer_id: str) -> bool:
        t = schema.data_keys
        return bool(self.conn.execute(t.delete().where(t.c.customer_id == customer_id)).rowcount)

    def all(self) -> list[tuple[str, str, bytes]]:
        t = schema.data_keys
        rows = self.conn.execute(select(t.c.customer_id, t.c.kek_id, t.c.wrapped))
        return [(r[0], r[1], bytes(r[2])) for r in rows]
