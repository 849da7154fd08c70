"""Sender portal users in SQL: ``customer_users``, written in the use case's transaction.

Not a projection: the password hashes are kept out of the log, so a rebuild leaves this
table as it is (like the customers' data keys).
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Index, String, Table, Text, select

from postex.accounts.app.portal_users import CustomerUser
from postex.eventlog.sql.schema import metadata

customer_users = Table(
    "customer_users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_id", String(40), nullable=False),
    Column("username", String(40), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Index("ix_customer_users_customer", "customer_id"),
)


def _user(row: object) -> CustomerUser:
    r = row._mapping  # type: ignore[attr-defined]
    return CustomerUser(r["id"], r["customer_id"], r["username"], r["created_at"],
                        r["password_hash"])  # fmt: skip


class SqlCustomerUsers:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def by_username(self, username: str) -> CustomerUser | None:
        t = customer_users
        row = self.conn.execute(select(t).where(t.c.username == username)).first()
        return _user(row) if row else None

    def for_customer(self, customer_id: str) -> list[CustomerUser]:
        t = customer_users
        q = select(t).where(t.c.customer_id == customer_id).order_by(t.c.created_at, t.c.id)
        return [_user(r) for r in self.conn.execute(q)]

    def add(self, user: CustomerUser) -> None:
        self.conn.execute(
            customer_users.insert().values(
                id=user.id, customer_id=user.customer_id, username=user.username,
                password_hash=user.password_hash, created_at=user.created_at,
            )
        )  # fmt: skip
