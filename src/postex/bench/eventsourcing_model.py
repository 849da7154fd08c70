"""The pre-advice use case modelled in pyeventsourcing, for ``postex bench eventsourcing``.

Imported only when the benchmark runs and ``eventsourcing`` (the ``compare`` extra) is
installed. One aggregate per item, created with the fields of ``item.pre_advised.v1``
(customer, origin site, service, destination, weight, customs form, goods flag,
dimensions) plus the personal and customs data in clear: eventsourcing's cipher encrypts
every stored event whole with AES-GCM, where Postex seals that part under the customer's
key. The application validates the same payloads with the same parser, issues S10 ids
from a counter and saves a request's aggregates in one transaction, as Postex does.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.cipher import AESCipher
from eventsourcing.domain import Aggregate
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory

from postex.items.domain.items import parse_pre_advice
from postex.kernel.ids import S10

NAMESPACE = uuid.UUID("7d1f0c4e-5b8a-4a57-9c1e-2f6b7e0d9a31")


class Item(Aggregate):  # type: ignore[misc, unused-ignore]
    """An export item, as pre-advice creates it (eventsourcing's ``Created`` event)."""

    def __init__(
        self,
        item_id: str,
        customer_id: str,
        origin_site: str,
        service: str,
        destination: str,
        weight_g: int,
        customs_form: str | None,
        has_goods: bool,
        personal: dict[str, Any],
        dimensions_mm: dict[str, int] | None,
    ) -> None:
        self.item_id = item_id
        self.customer_id = customer_id
        self.origin_site = origin_site
        self.service = service
        self.destination = destination
        self.weight_g = weight_g
        self.customs_form = customs_form
        self.has_goods = has_goods
        self.personal = personal
        self.dimensions_mm = dimensions_mm

    @classmethod
    def create_id(cls, item_id: str, *_args: Any, **_kwargs: Any) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, item_id)


class Items(Application):  # type: ignore[misc, type-arg, unused-ignore]
    """Pre-advice: validate each payload, issue an S10 id, create and save the items."""

    serial = 10_000_000

    def pre_advise(self, site: str, customer_id: str, payloads: Sequence[dict[str, Any]]) -> int:
        items = []
        for payload in payloads:
            advice = parse_pre_advice(payload)
            self.serial += 1
            items.append(
                Item(
                    str(S10(advice.service.s10_prefix, self.serial, "GB")),
                    customer_id,
                    site,
                    advice.service.code,
                    advice.destination,
                    advice.weight_g,
                    advice.customs_form,
                    advice.contents.has_goods,
                    advice.personal(),
                    None if advice.dimensions is None else advice.dimensions.to_dict(),
                )
            )
        self.save(*items)  # one transaction for the whole request
        return len(items)


class _NormalSyncPool(SQLiteConnectionPool):  # type: ignore[misc, unused-ignore]
    """eventsourcing's SQLite pool with ``synchronous=NORMAL`` on each connection, as
    Postex's own SQLite connections have (WAL in both): the same durability on both sides."""

    def _create_connection(self) -> SQLiteConnection:
        conn = super()._create_connection()
        conn._sqlite_conn.execute("PRAGMA synchronous=NORMAL")
        return conn


class NormalSyncSQLiteFactory(SQLiteFactory):  # type: ignore[misc, unused-ignore]
    """eventsourcing's SQLite factory on :class:`_NormalSyncPool` (``PERSISTENCE_MODULE``)."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        old = self.datastore.pool
        self.datastore.pool = _NormalSyncPool(db_name=old.db_name, lock_timeout=old.lock_timeout)
        old.close()


def sqlite_env(path: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": f"{__name__}:NormalSyncSQLiteFactory",
        "SQLITE_DBNAME": path,
        **cipher_env(),
    }


def postgres_env(host: str, port: int, user: str, password: str, dbname: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": password,
        **cipher_env(),
    }


def cipher_env() -> dict[str, str]:
    """The cipher on: AES-256-GCM (pycryptodome, the ``crypto`` extra) over every event."""
    return {
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
    }


def flush_sqlite(path: str) -> None:
    """Write the WAL into the database file, as Postex's side is flushed."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(RESTART)")
    conn.close()


def make_app(env: dict[str, str]) -> Items:
    return Items(env=env)
