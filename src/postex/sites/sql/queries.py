"""Repositories of site operations: queries over the site projections, scoped by site."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from postex.accounts.app.auth import Role
from postex.accounts.app.staff import UserRecord
from postex.accounts.sql.staff_passwords import staff_passwords
from postex.eventlog.sql.fast import fetchall
from postex.eventlog.sql.row_mac import row_checks
from postex.items.app.preadvice import ItemRecord
from postex.items.sql.core import ITEMS_WITH_ADVICE, sealed_of
from postex.sites.app.ops import (
    DespatchRecord,
    HandlingRecord,
    MessageRecord,
    Position,
    ReceptacleRecord,
)
from postex.sites.sql.projections import (
    STAFF_TABLE,
    despatch_messages,
    despatches,
    item_handling,
    receptacles,
    staff_users,
)


def _rows(conn: Connection, query: Any) -> list[Any]:
    return [r._mapping for r in conn.execute(query)]


def _page(q: Any, at: Any, key: Any, after: Position | None, limit: int | None) -> Any:
    """Keyset paging on (time, id): rows after ``after``, oldest first, at most ``limit``."""
    if after is not None:
        q = q.where(or_(at > after[0], and_(at == after[0], key > after[1])))
    q = q.order_by(at, key)
    return q.limit(limit) if limit is not None else q


def _receptacle(m: Any) -> ReceptacleRecord:
    return ReceptacleRecord(
        id=m["id"],
        site=m["site"],
        destination=m["destination"],
        category=m["category"],
        subclass=m["subclass"],
        state=m["state"],
        opened_at=m["opened_at"],
        closed_at=m["closed_at"],
        item_count=m["item_count"],
        content_g=m["content_g"],
        gross_weight_g=m["gross_weight_g"],
        s9=m["s9"],
        despatch_id=m["despatch_id"],
        carrier_status=m["carrier_status"],
    )


def _despatch(m: Any) -> DespatchRecord:
    return DespatchRecord(**{k: m[k] for k in DespatchRecord.__dataclass_fields__})


def _handling(m: Any) -> HandlingRecord:
    return HandlingRecord(**{k: m[k] for k in HandlingRecord.__dataclass_fields__})


CHUNK = 900  # stays under SQLite's bound-parameter limit
# The sealed data comes from the item's pre-advice event (see core.ITEMS_WITH_ADVICE).
ITEM_COLUMNS = ", ".join(
    "events.body" if f == "sealed" else f"items.{f}" for f in ItemRecord.__dataclass_fields__
)
HANDLING_COLUMNS = ", ".join(HandlingRecord.__dataclass_fields__)


def _item_row(r: tuple[Any, ...]) -> ItemRecord:
    values = dict(zip(ItemRecord.__dataclass_fields__, r, strict=True))
    values["has_goods"] = bool(values["has_goods"])
    values["sealed"] = sealed_of(bytes(values["sealed"]))
    return ItemRecord(**values)


class SqlSiteOps:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _in(self, sql: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (ending in ``IN``) for every id, in chunks; raw cursor: hot path."""
        unique = list(dict.fromkeys(ids))
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(unique), CHUNK):
            chunk = unique[i : i + CHUNK]
            rows += fetchall(self.conn, f"{sql} ({', '.join('?' * len(chunk))})", chunk)
        return rows

    def items(self, item_ids: Sequence[str]) -> dict[str, ItemRecord]:
        rows = self._in(
            f"SELECT {ITEM_COLUMNS} FROM {ITEMS_WITH_ADVICE} WHERE items.id IN", item_ids
        )
        return {r[0]: _item_row(r) for r in rows}

    def handling(self, item_ids: Sequence[str]) -> dict[str, HandlingRecord]:
        rows = self._in(f"SELECT {HANDLING_COLUMNS} FROM item_handling WHERE item_id IN", item_ids)
        return {r[0]: HandlingRecord(*r) for r in rows}

    def receptacle(self, site: str, receptacle_id: str) -> ReceptacleRecord | None:
        t = receptacles
        rows = _rows(self.conn, select(t).where(t.c.id == receptacle_id, t.c.site == site))
        return _receptacle(rows[0]) if rows else None

    def receptacle_by_s9(self, s9: str) -> ReceptacleRecord | None:
        rows = _rows(self.conn, select(receptacles).where(receptacles.c.s9 == s9))
        return _receptacle(rows[0]) if rows else None

    def receptacles(
        self,
        site: str,
        state: str | None = None,
        despatch_id: str | None = None,
        after: Position | None = None,
        limit: int | None = None,
    ) -> list[ReceptacleRecord]:
        t = receptacles
        q = select(t).where(t.c.site == site)
        if state:
            q = q.where(t.c.state == state)
        if despatch_id:
            q = q.where(t.c.despatch_id == despatch_id).order_by(t.c.receptacle_serial)
        else:
            q = _page(q, t.c.opened_at, t.c.id, after, limit)
        return [_receptacle(m) for m in _rows(self.conn, q)]

    def receptacle_items(self, receptacle_id: str) -> list[HandlingRecord]:
        t = item_handling
        q = select(t).where(t.c.receptacle_id == receptacle_id).order_by(t.c.item_id)
        return [_handling(m) for m in _rows(self.conn, q)]

    def despatch_items(self, despatch_id: str) -> list[HandlingRecord]:
        t = item_handling
        q = select(t).where(t.c.despatch_id == despatch_id).order_by(t.c.item_id)
        return [_handling(m) for m in _rows(self.conn, q)]

    def pending(
        self, site: str, series: tuple[str, str, str], year_digit: int, serial: int
    ) -> list[ReceptacleRecord]:
        t = receptacles
        q = (
            select(t)
            .where(
                t.c.site == site,
                t.c.destination == series[0],
                t.c.category == series[1],
                t.c.subclass == series[2],
                t.c.year_digit == year_digit,
                t.c.despatch_serial == serial,
                t.c.state == "closed",
            )
            .order_by(t.c.receptacle_serial)
        )
        return [_receptacle(m) for m in _rows(self.conn, q)]

    def last_despatch_serial(
        self, site: str, series: tuple[str, str, str], year_digit: int
    ) -> int | None:
        rows = fetchall(
            self.conn,
            "SELECT max(serial) FROM despatches WHERE site = ? AND"
            " destination = ? AND category = ? AND subclass = ? AND year_digit = ?",
            (site, *series, year_digit),
        )
        return rows[0][0] if rows and rows[0][0] is not None else None

    def despatch(self, site: str, despatch_id: str) -> DespatchRecord | None:
        t = despatches
        rows = _rows(self.conn, select(t).where(t.c.id == despatch_id, t.c.site == site))
        return _despatch(rows[0]) if rows else None

    def despatches(
        self,
        site: str,
        state: str | None = None,
        after: Position | None = None,
        limit: int | None = None,
    ) -> list[DespatchRecord]:
        t = despatches
        q = select(t).where(t.c.site == site)
        if state:
            q = q.where(t.c.state == state)
        q = _page(q, t.c.composed_at, t.c.id, after, limit)
        return [_despatch(m) for m in _rows(self.conn, q)]

    def messages(self, despatch_id: str, kind: str | None = None) -> list[MessageRecord]:
        t = despatch_messages
        q = select(t).where(t.c.despatch_id == despatch_id)
        if kind:
            q = q.where(t.c.kind == kind)
        rows = _rows(self.conn, q.order_by(t.c.kind, t.c.part))
        return [
            MessageRecord(**{k: m[k] for k in MessageRecord.__dataclass_fields__}) for m in rows
        ]


def _user(m: Any) -> UserRecord:
    return UserRecord(
        m["id"], m["username"], Role(m["role"]), m["site"], m["created_at"], m["password_hash"]
    )


def _users() -> Any:
    p = staff_passwords
    hashed = select(p.c.password_hash).where(p.c.user_id == staff_users.c.id).scalar_subquery()
    return select(staff_users, hashed.label("password_hash"))


class SqlUsers:
    """Staff users, each read only if its row carries the projection's MAC: a user added or
    promoted straight in the database is not a user (the guard raises an alarm)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _checked(self, rows: list[Any]) -> list[UserRecord]:
        return [
            _user(m) for m in rows
            if row_checks(self.conn, STAFF_TABLE, str(m["id"]),
                          [m["id"], m["username"], m["role"], m["site"]], m["mac"])
        ]  # fmt: skip

    def by_username(self, username: str) -> UserRecord | None:
        found = self._checked(_rows(self.conn, _users().where(staff_users.c.username == username)))
        return found[0] if found else None

    def get(self, user_id: str) -> UserRecord | None:
        found = self._checked(_rows(self.conn, _users().where(staff_users.c.id == user_id)))
        return found[0] if found else None

    def all(self) -> list[UserRecord]:
        return self._checked(_rows(self.conn, _users()))
