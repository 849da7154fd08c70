"""Track and trace: partners, partner events and their quarantine, webhook subscriptions
and deliveries (projections and repositories).

Every handler is a function of the event and of projection rows written by earlier events,
so ``postex rebuild`` recreates the same rows. Deliveries are projection rows too: their
ids are derived from the log position of the tracking row they announce, and their
outcomes come from ``webhook.delivery_attempted.v1`` events, so a rebuilt node resends
nothing already delivered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Connection, Index, Integer, String, Table, Text

from postex.adapters.sql.core import TRACKING_INSERT, local_time, set_state
from postex.adapters.sql.fast import executemany, fetchall
from postex.adapters.sql.projections import projection
from postex.adapters.sql.repositories import implements
from postex.adapters.sql.schema import metadata
from postex.app import partner_events as pe
from postex.app import webhooks as wh
from postex.app.advisories import ADVISORY_CLOSED, ADVISORY_PUBLISHED, ADVISORY_UPDATED
from postex.app.partners import PARTNER_REGISTERED, PartnerRecord, PartnerRepository
from postex.app.tracking import PublicTrackingRepository, TrackingRow
from postex.domain import events as ev
from postex.eventlog.events import StoredEvent

partners = Table(
    "partners",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("offices", Text, nullable=False),  # JSON list of IMPC codes
    Column("created_at", String(32), nullable=False),
)

partner_event_keys = Table(
    "partner_event_keys",
    metadata,
    Column("event_key", String(80), primary_key=True),  # item|code|utc time|office
    Column("site", String(16), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

partner_quarantine = Table(
    "partner_quarantine",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("item_id", String(13), nullable=False),
    Column("code", String(8), nullable=False),
    Column("occurred_at", String(40), nullable=False),
    Column("occurred_utc", String(32), nullable=False),
    Column("office", String(16)),
    Column("reason", String(8)),
    Column("partner_id", String(40), nullable=False),
    Column("operators", Text, nullable=False),  # JSON list of operator codes
    Column("received_at", String(32), nullable=False),
    Column("status", String(10), nullable=False),  # waiting | attached | refused
    Index("ix_quarantine_item", "item_id", "status"),
    Index("ix_quarantine_status", "status", "received_at"),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_id", String(40), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("statuses", Text),  # JSON list, NULL for all
    Column("advisories", Boolean, nullable=False),
    Column("state", String(10), nullable=False),  # active | failing | deleted
    Column("consecutive_failures", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("sealed", Text, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subscription_id", String(40), nullable=False),
    Column("customer_id", String(40), nullable=False),
    Column("item_id", String(13)),
    Column("event_type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(10), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("round_start", Integer, nullable=False),
    Column("next_attempt_at", String(32), nullable=False),
    Column("last_status", Integer),
    Column("last_error", String(200)),
    Column("created_at", String(32), nullable=False),
    Column("delivered_at", String(32)),
    Index("ix_deliveries_due", "state", "next_attempt_at"),
    Index("ix_deliveries_subscription", "subscription_id", "created_at"),
)

tracking_ops_p = projection(
    "tracking_ops",
    partners,
    partner_event_keys,
    partner_quarantine,
    webhook_subscriptions,
    webhook_deliveries,
)

DELIVERY_INSERT = (
    "INSERT INTO webhook_deliveries (id, subscription_id, customer_id, item_id, event_type,"
    " payload, state, attempts, round_start, next_attempt_at, last_status, last_error,"
    " created_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, NULL, NULL, ?, NULL)"
)


def _marks(n: int) -> str:
    return ", ".join(["?"] * n)


def _chunks(values: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


@dataclass(frozen=True)
class _NewRow:
    """A tracking row just written, to announce to subscribers."""

    site: str
    seq: int
    item_id: str
    code: str
    occurred_at: str
    office: str | None
    source: str
    recorded_at: str
    customer_id: str


def _subscriptions(conn: Connection) -> dict[str, list[tuple[str, list[str] | None]]]:
    rows = fetchall(
        conn, "SELECT id, customer_id, statuses FROM webhook_subscriptions WHERE state <> 'deleted'"
    )
    out: dict[str, list[tuple[str, list[str] | None]]] = {}
    for sub_id, customer_id, statuses in rows:
        out.setdefault(customer_id, []).append((sub_id, json.loads(statuses) if statuses else None))
    return out


def _announce(conn: Connection, rows: Sequence[_NewRow]) -> None:
    if not rows:
        return
    subs = _subscriptions(conn)
    if not subs:
        return
    out = []
    for r in rows:
        for sub_id, statuses in subs.get(r.customer_id, ()):
            if not wh.wants(statuses, r.code):
                continue
            did = wh.delivery_id(sub_id, f"{r.site}:{r.seq}:{r.item_id}")
            payload = wh.tracking_payload(
                did, r.recorded_at, r.item_id, r.code, r.occurred_at, r.office, r.source
            )
            out.append((did, sub_id, r.customer_id, r.item_id, "item.tracking_event", payload,
                        r.recorded_at, r.recorded_at))  # fmt: skip
    executemany(conn, DELIVERY_INSERT, out)


def _items(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str, str, str, str]]:
    """id -> (customer_id, state, destination, service)."""
    found: dict[str, tuple[str, str, str, str]] = {}
    unique = sorted(set(ids))
    for part in _chunks(unique):
        for r in fetchall(
            conn,
            "SELECT id, customer_id, state, destination, service FROM items"
            f" WHERE id IN ({_marks(len(part))})",
            part,
        ):
            found[r[0]] = (r[1], r[2], r[3], r[4])
    return found


class _States:
    """Item states moved by partner events within one run, written once at the end."""

    def __init__(self, items: dict[str, tuple[str, str, str, str]]) -> None:
        self.current = {k: v[1] for k, v in items.items()}
        self.changed: dict[str, tuple[str, str]] = {}

    def apply(self, item_id: str, code: str, at: str) -> None:
        now = self.current[item_id]
        target = pe.state_after(now, code)
        if target is not None and target != now:
            self.current[item_id] = target
            self.changed[item_id] = (target, at)

    def write(self, conn: Connection) -> None:
        set_state(conn, [(s, None, at, i) for i, (s, at) in self.changed.items()])


@tracking_ops_p.on(PARTNER_REGISTERED)
def _partner_registered(conn: Connection, events: Sequence[StoredEvent]) -> None:
    executemany(
        conn,
        "INSERT INTO partners (id, name, offices, created_at) VALUES (?, ?, ?, ?)",
        [(e.data["partner_id"], e.data["name"], json.dumps(e.data["offices"]), e.recorded_at)
         for e in events],
    )  # fmt: skip


@tracking_ops_p.on(pe.PARTNER_EVENT_RECORDED)
def _partner_event(conn: Connection, events: Sequence[StoredEvent]) -> None:
    executemany(
        conn,
        "INSERT INTO partner_event_keys (event_key, site, seq) VALUES (?, ?, ?)",
        [(_key(e.data), e.site, e.seq) for e in events],
    )
    items = _items(conn, [e.data["item_id"] for e in events])
    states = _States(items)
    tracking, waiting, announce = [], [], []
    for e in events:
        d = e.data
        item = items.get(d["item_id"])
        if item is None:
            waiting.append(_quarantine_row(e))
            continue
        tracking.append(_tracking_row(e.site, e.seq, d))
        states.apply(d["item_id"], d["code"], e.recorded_at)
        announce.append(_new_row(e.site, e.seq, d, e.recorded_at, item[0]))
    executemany(conn, TRACKING_INSERT, tracking)
    states.write(conn)
    executemany(
        conn,
        "INSERT INTO partner_quarantine (site, seq, item_id, code, occurred_at, occurred_utc,"
        " office, reason, partner_id, operators, received_at, status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting')",
        waiting,
    )
    _announce(conn, announce)


def _key(d: dict[str, Any]) -> str:
    return pe.event_key(d["item_id"], d["code"], d["occurred_utc"], d["office"])


def _tracking_row(site: str, seq: int, d: dict[str, Any]) -> tuple[object, ...]:
    return (site, seq, d["item_id"], d["code"], d["occurred_at"], d["occurred_utc"],
            d["office"], d["reason"], "partner")  # fmt: skip


def _new_row(site: str, seq: int, d: dict[str, Any], recorded_at: str, customer: str) -> _NewRow:
    return _NewRow(site, seq, d["item_id"], d["code"], d["occurred_at"], d["office"], "partner",
                   recorded_at, customer)  # fmt: skip


def _quarantine_row(e: StoredEvent) -> tuple[object, ...]:
    d = e.data
    return (e.site, e.seq, d["item_id"], d["code"], d["occurred_at"], d["occurred_utc"],
            d["office"], d["reason"], d["partner_id"], json.dumps(d.get("operators", [])),
            e.recorded_at)  # fmt: skip


@tracking_ops_p.on(ev.ITEM_PRE_ADVISED)
def _item_pre_advised(conn: Connection, events: Sequence[StoredEvent]) -> None:
    """Announce PRE to subscribers, then attach any quarantined partner events.

    The core keeps no tracking row for PRE (the item row stands for it), so PRE is
    announced from the event itself.
    """
    subs = _subscriptions(conn)
    _announce(
        conn,
        [_NewRow(e.site, e.seq, e.data["item_id"], "PRE", local_time(e.recorded_at), None,
                 "site", e.recorded_at, e.data["customer_id"])
         for e in events if e.data["customer_id"] in subs],
    )  # fmt: skip
    if not fetchall(conn, "SELECT 1 FROM partner_quarantine WHERE status = 'waiting' LIMIT 1"):
        return
    by_id = {e.data["item_id"]: e for e in events}
    waiting = []
    for part in _chunks(sorted(by_id)):
        waiting += fetchall(
            conn,
            "SELECT site, seq, item_id, code, occurred_at, occurred_utc, office, reason, operators"
            " FROM partner_quarantine WHERE status = 'waiting'"
            f" AND item_id IN ({_marks(len(part))})"
            " ORDER BY occurred_utc, site, seq",
            part,
        )
    if not waiting:
        return
    items = _items(conn, [w[2] for w in waiting])
    states = _States(items)
    tracking, announce, status = [], [], []
    for site, seq, item_id, code, occurred_at, occurred_utc, office, reason, operators in waiting:
        e = by_id[item_id]
        body = {"operators": json.loads(operators), "occurred_utc": occurred_utc}
        if not pe.may_attach(body, e.data["destination"], e.data["service"], e.recorded_at):
            status.append(("refused", site, seq))
            continue
        d = {"item_id": item_id, "code": code, "occurred_at": occurred_at,
             "occurred_utc": occurred_utc, "office": office, "reason": reason}  # fmt: skip
        tracking.append(_tracking_row(site, seq, d))
        states.apply(item_id, code, e.recorded_at)
        announce.append(_new_row(site, seq, d, e.recorded_at, e.data["customer_id"]))
        status.append(("attached", site, seq))
    executemany(conn, TRACKING_INSERT, tracking)
    states.write(conn)
    executemany(conn, "UPDATE partner_quarantine SET status = ? WHERE site = ? AND seq = ?", status)
    _announce(conn, announce)


def _announce_site_rows(conn: Connection, events: Sequence[StoredEvent]) -> None:
    """Announce the tracking rows our own sites' events wrote (any feature's).

    Runs after those features' projections (this module is imported after them, see
    bootstrap), for every event type, so a new kind of site event needs no change here.
    """
    subs = _subscriptions(conn)
    if not subs or not events:
        return
    spans: dict[str, tuple[int, int]] = {}
    for e in events:
        low, high = spans.get(e.site, (e.seq, e.seq))
        spans[e.site] = (min(low, e.seq), max(high, e.seq))
    rows = []
    for site, (low, high) in spans.items():
        rows += fetchall(
            conn,
            "SELECT t.site, t.seq, t.item_id, t.code, t.occurred_at, t.office, t.occurred_utc,"
            " i.customer_id FROM tracking_events t JOIN items i ON i.id = t.item_id"
            " WHERE t.site = ? AND t.seq >= ? AND t.seq <= ? AND t.source = 'site'"
            " AND t.code <> 'PRE'"
            " ORDER BY t.seq, t.item_id",
            (site, low, high),
        )
    _announce(
        conn,
        [_NewRow(r[0], r[1], r[2], r[3], r[4], r[5], "site", r[6], r[7]) for r in rows
         if r[7] in subs],
    )  # fmt: skip


class _EveryType(dict[str, Any]):
    """Handlers of this projection; any other event type announces its site rows."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key, _announce_site_rows)


tracking_ops_p.handlers = _EveryType(tracking_ops_p.handlers)


@tracking_ops_p.on(ADVISORY_PUBLISHED, ADVISORY_UPDATED, ADVISORY_CLOSED)
def _advisory(conn: Connection, events: Sequence[StoredEvent]) -> None:
    subs = fetchall(
        conn,
        "SELECT id, customer_id FROM webhook_subscriptions WHERE state <> 'deleted'"
        " AND advisories = ? ORDER BY id",
        (True,),
    )
    out = []
    for e in events:
        kind = e.type.rsplit(".", 1)[0]
        for sub_id, customer_id in subs:
            did = wh.delivery_id(sub_id, f"{e.site}:{e.seq}")
            payload = wh.advisory_payload(did, e.recorded_at, kind, e.data)
            out.append((did, sub_id, customer_id, None, kind, payload, e.recorded_at,
                        e.recorded_at))  # fmt: skip
    executemany(conn, DELIVERY_INSERT, out)


@tracking_ops_p.on(wh.WEBHOOK_SUBSCRIBED)
def _subscribed(conn: Connection, events: Sequence[StoredEvent]) -> None:
    executemany(
        conn,
        "INSERT INTO webhook_subscriptions (id, customer_id, url, statuses, advisories, state,"
        " consecutive_failures, created_at, sealed) VALUES (?, ?, ?, ?, ?, 'active', 0, ?, ?)",
        [
            (d["subscription_id"], d["customer_id"], d["url"],
             json.dumps(d["statuses"]) if d["statuses"] is not None else None,
             d["advisories"], e.recorded_at, d["sealed"])
            for e in events
            for d in (e.data,)
        ],
    )  # fmt: skip


@tracking_ops_p.on(wh.WEBHOOK_DELETED)
def _deleted(conn: Connection, events: Sequence[StoredEvent]) -> None:
    executemany(
        conn,
        "UPDATE webhook_subscriptions SET state = 'deleted' WHERE id = ?",
        [(e.data["subscription_id"],) for e in events],
    )


@tracking_ops_p.on(wh.DELIVERY_ATTEMPTED)
def _attempted(conn: Connection, events: Sequence[StoredEvent]) -> None:
    for e in events:  # in order: a subscription's failure count depends on each outcome
        d = e.data
        executemany(
            conn,
            "UPDATE webhook_deliveries SET attempts = ?, state = ?, next_attempt_at = ?,"
            " last_status = ?, last_error = ?, delivered_at = ? WHERE id = ?",
            [(d["attempt"], d["state"], d["next_attempt_at"] or d["at"], d["status"], d["error"],
              d["at"] if d["ok"] else None, d["delivery_id"])],
        )  # fmt: skip
        if d["ok"]:
            sql = (
                "UPDATE webhook_subscriptions SET consecutive_failures = 0, state = CASE"
                " WHEN state = 'deleted' THEN state ELSE 'active' END WHERE id = ?"
            )
        else:
            sql = (
                "UPDATE webhook_subscriptions SET consecutive_failures = consecutive_failures + 1,"
                " state = CASE WHEN state <> 'deleted' AND consecutive_failures + 1 >= "
                f"{int(wh.FAILING_AFTER)} THEN 'failing' ELSE state END WHERE id = ?"
            )
        executemany(conn, sql, [(d["subscription_id"],)])


@tracking_ops_p.on(wh.REDELIVERY_REQUESTED)
def _redeliver(conn: Connection, events: Sequence[StoredEvent]) -> None:
    executemany(
        conn,
        "UPDATE webhook_deliveries SET state = 'pending', round_start = attempts,"
        " next_attempt_at = ? WHERE id = ?",
        [(e.recorded_at, e.data["delivery_id"]) for e in events],
    )


# --- repositories ----------------------------------------------------------------------
@implements(PartnerRepository)
class SqlPartners:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, partner_id: str) -> PartnerRecord | None:
        rows = fetchall(
            self.conn, "SELECT id, name, offices, created_at FROM partners WHERE id = ?",
            (partner_id,),
        )  # fmt: skip
        return PartnerRecord(rows[0][0], rows[0][1], tuple(json.loads(rows[0][2])), rows[0][3]) \
            if rows else None  # fmt: skip

    def list(self) -> list[PartnerRecord]:
        rows = fetchall(
            self.conn, "SELECT id, name, offices, created_at FROM partners ORDER BY created_at, id"
        )
        return [PartnerRecord(r[0], r[1], tuple(json.loads(r[2])), r[3]) for r in rows]


@implements(pe.PartnerEventRepository)
class SqlPartnerEvents:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def items_brief(self, item_ids: Sequence[str]) -> dict[str, pe.ItemBrief]:
        out = {}
        for part in _chunks(item_ids):
            for r in fetchall(
                self.conn,
                "SELECT id, customer_id, destination, service, state, created_at FROM items"
                f" WHERE id IN ({_marks(len(part))})",
                part,
            ):
                out[r[0]] = pe.ItemBrief(*r)
        return out

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in _chunks(keys):
            found.update(
                r[0]
                for r in fetchall(
                    self.conn,
                    "SELECT event_key FROM partner_event_keys"
                    f" WHERE event_key IN ({_marks(len(part))})",
                    part,
                )
            )
        return found

    def quarantine(self, status: str | None, limit: int) -> list[pe.QuarantineRow]:
        where = "WHERE status = ?" if status else ""
        params: tuple[object, ...] = (status,) if status else ()
        rows = fetchall(
            self.conn,
            "SELECT site, seq, item_id, code, occurred_at, office, partner_id, received_at, status"
            f" FROM partner_quarantine {where} ORDER BY received_at, site, seq LIMIT {int(limit)}",
            params,
        )
        return [pe.QuarantineRow(*r) for r in rows]


SUB_COLUMNS = (
    "id, customer_id, url, statuses, advisories, state, consecutive_failures, created_at, sealed"
)
DELIVERY_COLUMNS = (
    "id, subscription_id, customer_id, item_id, event_type, payload, state, attempts,"
    " round_start, next_attempt_at, last_status, last_error, created_at, delivered_at"
)


def _sub(r: Sequence[Any]) -> wh.SubscriptionRecord:
    return wh.SubscriptionRecord(
        r[0], r[1], r[2], tuple(json.loads(r[3])) if r[3] else None, bool(r[4]), r[5], r[6],
        r[7], r[8],
    )  # fmt: skip


@implements(wh.WebhookRepository)
class SqlWebhooks:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, customer_id: str, subscription_id: str) -> wh.SubscriptionRecord | None:
        rows = fetchall(
            self.conn,
            f"SELECT {SUB_COLUMNS} FROM webhook_subscriptions"
            " WHERE id = ? AND customer_id = ? AND state <> 'deleted'",
            (subscription_id, customer_id),
        )
        return _sub(rows[0]) if rows else None

    def owned(self, customer_id: str) -> list[wh.SubscriptionRecord]:
        rows = fetchall(
            self.conn,
            f"SELECT {SUB_COLUMNS} FROM webhook_subscriptions"
            " WHERE customer_id = ? AND state <> 'deleted' ORDER BY created_at, id",
            (customer_id,),
        )
        return [_sub(r) for r in rows]

    def deliveries(
        self, customer_id: str, subscription_id: str, limit: int
    ) -> list[wh.DeliveryRecord]:
        rows = fetchall(
            self.conn,
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE customer_id = ?"
            f" AND subscription_id = ? ORDER BY created_at DESC, id LIMIT {int(limit)}",
            (customer_id, subscription_id),
        )
        return [wh.DeliveryRecord(*r) for r in rows]

    def delivery(self, customer_id: str, delivery_id: str) -> wh.DeliveryRecord | None:
        rows = fetchall(
            self.conn,
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ? AND customer_id = ?",
            (delivery_id, customer_id),
        )
        return wh.DeliveryRecord(*rows[0]) if rows else None

    def due(self, now: str, limit: int) -> list[tuple[wh.DeliveryRecord, wh.SubscriptionRecord]]:
        cols = ", ".join(f"d.{c.strip()}" for c in DELIVERY_COLUMNS.split(","))
        scols = ", ".join(f"s.{c.strip()}" for c in SUB_COLUMNS.split(","))
        rows = fetchall(
            self.conn,
            f"SELECT {cols}, {scols} FROM webhook_deliveries d JOIN webhook_subscriptions s"
            " ON s.id = d.subscription_id WHERE d.state = 'pending' AND d.next_attempt_at <= ?"
            f" AND s.state <> 'deleted' ORDER BY d.next_attempt_at, d.id LIMIT {int(limit)}",
            (now,),
        )
        return [(wh.DeliveryRecord(*r[:14]), _sub(r[14:])) for r in rows]


@implements(PublicTrackingRepository)
class SqlPublicTracking:
    """The public tracking hot path: one indexed query through the DB-API cursor."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def public_view(self, item_id: str) -> tuple[tuple[str, str] | None, list[TrackingRow]]:
        rows = fetchall(
            self.conn,
            "SELECT i.service, i.destination, i.created_at, i.origin_site, t.code, t.occurred_at,"
            " t.occurred_utc, t.office, t.reason, t.source, t.site, t.seq FROM items i"
            " LEFT JOIN tracking_events t ON t.item_id = i.id WHERE i.id = ?",
            (item_id,),
        )
        if not rows:
            return None, []
        service, destination, created_at, origin = rows[0][:4]
        timeline = [TrackingRow(item_id, *r[4:]) for r in rows if r[4] is not None]
        if not any(r.code == "PRE" for r in timeline):  # the item row stands for its PRE
            pre = TrackingRow(item_id, "PRE", local_time(created_at), created_at, None, None,
                              "site", origin, 0)  # fmt: skip
            timeline.append(pre)
        timeline.sort(key=lambda r: (r.occurred_utc, r.site, r.seq))
        return (service, destination), timeline
