"""The sender portal's own table: each account's CSV column mapping (not a projection)."""

from __future__ import annotations

import json

from sqlalchemy import Column, Connection, String, Table, Text, delete, select

from postex.eventlog.sql.schema import metadata

customer_column_mappings = Table(
    "customer_column_mappings",
    metadata,
    Column("customer_id", String(40), primary_key=True),
    Column("mapping", Text, nullable=False),  # JSON: our column → their header
    Column("updated_at", String(32), nullable=False),
)


class SqlColumnMappings:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, customer_id: str) -> dict[str, str]:
        t = customer_column_mappings
        found = self.conn.execute(
            select(t.c.mapping).where(t.c.customer_id == customer_id)
        ).scalar_one_or_none()
        return dict(json.loads(found)) if found else {}

    def put(self, customer_id: str, mapping: dict[str, str], at: str) -> None:
        t = customer_column_mappings
        self.conn.execute(delete(t).where(t.c.customer_id == customer_id))
        self.conn.execute(
            t.insert().values(customer_id=customer_id, mapping=json.dumps(mapping), updated_at=at)
        )
