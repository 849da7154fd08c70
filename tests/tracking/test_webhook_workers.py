"""Webhook delivery with several workers: leases, taken-over leases, per-attempt history,
the partners' own quarantine view, and the tracking tables' migration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from postex.bootstrap import Container, build
from postex.config import load_settings
from postex.eventlog.chain import format_time
from postex.eventlog.events import NewEvent
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.ids import S10
from postex.tracking.app.webhooks import (
    LEASE_S,
    SEND_BUDGET_S,
    SendOutcome,
    WebhookRepository,
    deliver_due,
)
from postex.tracking.events import WebhookDeliveryAttempted
from tests.factories import ManualClock, new_customer, new_items
from tests.tracking.conftest import Receiver, auth, partner_key

EVENT = {"event_code": "EMD", "occurred_at": "2026-11-03T15:22:00-05:00", "office": "USJFKA"}


def _subscribe(client: TestClient, api_key: str, url: str) -> str:
    made = client.post("/api/v1/webhooks", json={"url": url}, headers=auth(api_key))
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _delivery_ids(node: Container) -> set[str]:
    return {r[0] for r in execute_raw(node.engine, "SELECT id FROM webhook_deliveries")}


def _undelivered(node: Container) -> int:
    rows = execute_raw(
        node.engine, "SELECT count(*) FROM webhook_deliveries WHERE state <> 'delivered'"
    )
    return int(rows[0][0])


def _second_worker_node(node: Container, clock: ManualClock) -> Container:
    """Another node object on the same database and keys: its own engine, pool and locks,
    as a second worker process would have."""
    settings = load_settings(home=str(node.settings.home), db_url=node.settings.db_url,
                             webhook_allow_private=True, webhook_worker_seconds=0)  # fmt: skip
    return build(settings, clock=clock)


def test_two_workers_send_each_delivery_exactly_once(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """Two workers with their own connections race over 40 due deliveries in small rounds;
    the receiver on 127.0.0.1 counts every request: each delivery arrives exactly once."""
    c = new_customer(node)
    _subscribe(client, c.api_key, receiver.url)
    new_items(node, c.record.id, 40)  # each pre-advice queues one delivery
    expected = _delivery_ids(node)
    assert len(expected) == 40
    other = _second_worker_node(node, clock)
    attempts: dict[str, int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(node: Container, name: str) -> None:
        sender = node.webhook_sender_factory(True)
        try:
            start.wait()
            total = 0
            while n := deliver_due(node.ctx, sender, limit=3, worker=name):
                total += n
            attempts[name] = total
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n, name))
               for n, name in ((node, "worker-a"), (other, "worker-b"))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    other.close()
    assert errors == []
    seen = Counter(h["Postex-Delivery"] for h, _, _ in receiver.requests)
    assert set(seen) == expected
    assert max(seen.values()) == 1, [d for d, n in seen.items() if n > 1]
    assert sum(attempts.values()) == 40
    states = execute_raw(
        node.engine, "SELECT state, attempts, claimed_by, lease_until FROM webhook_deliveries"
    )
    assert set(states) == {("delivered", 1, None, None)}
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 0


def test_two_worker_processes_send_each_delivery_exactly_once(
    node: Container, client: TestClient, receiver: Receiver
) -> None:
    """Two `postex worker` processes on one database drain 250 deliveries (more than one
    round each); every delivery reaches the receiver exactly once."""
    c = new_customer(node)
    _subscribe(client, c.api_key, receiver.url)
    new_items(node, c.record.id, 250)
    expected = _delivery_ids(node)
    postex = str(Path(sys.executable).parent / "postex")
    env = {**os.environ, "POSTEX_WEBHOOK_ALLOW_PRIVATE": "true"}
    args = [postex, "worker", "--db", node.settings.db_url, "--home", str(node.settings.home),
            "--interval", "0.2"]  # fmt: skip
    workers = [subprocess.Popen(args, env=env, stderr=subprocess.PIPE) for _ in range(2)]
    try:
        deadline = time.monotonic() + 90  # a bound for a stuck run, not a measurement
        while _undelivered(node) and time.monotonic() < deadline:
            if any(w.poll() is not None for w in workers):
                break
            time.sleep(0.2)
    finally:
        for w in workers:
            w.send_signal(signal.SIGINT)
        outputs = [w.communicate(timeout=30)[1].decode() for w in workers]
    for w, out in zip(workers, outputs, strict=True):  # Ctrl+C while still starting: "Aborted!"
        assert w.returncode == 0 or (w.returncode == 1 and "Aborted" in out), out
        assert "Traceback" not in out, out
    seen = Counter(h["Postex-Delivery"] for h, _, _ in receiver.requests)
    assert set(seen) == expected
    assert max(seen.values()) == 1, [d for d, n in seen.items() if n > 1]
    states = execute_raw(node.engine, "SELECT state, claimed_by FROM webhook_deliveries")
    assert set(states) == {("delivered", None)}


def test_an_expired_lease_is_taken_over(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """A worker that claimed a delivery and died holds it until its lease runs out; then
    another worker sends it (once)."""
    c = new_customer(node)
    _subscribe(client, c.api_key, receiver.url)
    new_items(node, c.record.id)
    now = clock.now()
    with node.store.write(node.ctx.site) as uow:  # claimed, then killed before sending
        claimed = uow.repo(WebhookRepository).claim(
            format_time(now), format_time(now + timedelta(seconds=LEASE_S)), "dead:1/x", 10
        )
    assert len(claimed) == 1
    sender = node.webhook_sender_factory(True)
    assert deliver_due(node.ctx, sender) == 0
    clock.advance(seconds=LEASE_S - 1)
    assert deliver_due(node.ctx, sender) == 0
    assert receiver.requests == []
    clock.advance(seconds=2)
    assert deliver_due(node.ctx, sender) == 1
    assert deliver_due(node.ctx, sender) == 0
    assert len(receiver.requests) == 1
    rows = execute_raw(node.engine, "SELECT state, claimed_by FROM webhook_deliveries")
    assert rows == [("delivered", None)]


class SlowSender:
    """Each POST takes (by the test's clock) ``seconds``; the real sender does the POST."""

    def __init__(self, node: Container, clock: ManualClock, seconds: float) -> None:
        self.inner = node.webhook_sender_factory(True)
        self.clock = clock
        self.seconds = seconds

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendOutcome:
        self.clock.advance(seconds=self.seconds)
        return self.inner.post(url, body, headers)


def test_no_send_starts_that_the_lease_could_not_cover(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """Slow sends stop the round before the lease could run out mid-send; the rest are
    released at once and the next round sends them."""
    c = new_customer(node)
    _subscribe(client, c.api_key, receiver.url)
    new_items(node, c.record.id, 3)
    per_send = (LEASE_S - SEND_BUDGET_S) / 2 + 1  # two sends fit, a third would not
    sender = SlowSender(node, clock, per_send)
    assert deliver_due(node.ctx, sender) == 2
    claims = execute_raw(node.engine, "SELECT claimed_by FROM webhook_deliveries")
    assert claims == [(None,)] * 3
    assert deliver_due(node.ctx, sender) == 1
    assert len({h["Postex-Delivery"] for h, _, _ in receiver.requests}) == 3


def test_delivery_history_lists_each_attempt_to_its_owner_only(
    node: Container, client: TestClient, clock: ManualClock, receiver: Receiver
) -> None:
    """Each attempt's time, status, coarse outcome and (delivered only) duration; no body;
    owner only; the same history after a rebuild."""
    owner, other = new_customer(node, "Owner Ltd"), new_customer(node, "Other Ltd")
    hook = _subscribe(client, owner.api_key, receiver.url)
    new_items(node, owner.record.id)
    receiver.fail_first = 1
    sender = node.webhook_sender_factory(True)
    assert deliver_due(node.ctx, sender) == 1
    first_at = format_time(clock.now())
    clock.advance(minutes=2)
    assert deliver_due(node.ctx, sender) == 1
    log = client.get(f"/api/v1/webhooks/{hook}/deliveries", headers=auth(owner.api_key))
    [d] = log.json()["deliveries"]
    url = f"/api/v1/webhooks/{hook}/deliveries/{d['id']}"
    r = client.get(url, headers=auth(owner.api_key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["id"], body["state"], body["attempt_count"]) == (d["id"], "delivered", 2)
    attempts = body["attempts"]
    assert [(a["attempt"], a["status"], a["error"]) for a in attempts] == [
        (1, 503, "http_status"),
        (2, 200, None),
    ]
    assert attempts[0]["at"] == first_at
    assert attempts[1]["at"] == format_time(clock.now())
    # a duration only for the delivered attempt: a failure's timing is a port-scan oracle
    assert attempts[0]["duration_ms"] is None
    assert isinstance(attempts[1]["duration_ms"], int) and attempts[1]["duration_ms"] >= 0
    assert [a["outcome"] for a in attempts] == [
        "failed: the endpoint answered 5xx",
        "delivered",
    ]
    assert set(attempts[0]) == {"attempt", "at", "status", "error", "outcome", "duration_ms"}
    assert client.get(url, headers=auth(other.api_key)).status_code == 404
    other_hook = _subscribe(client, other.api_key, receiver.url)
    r = client.get(f"/api/v1/webhooks/{other_hook}/deliveries/{d['id']}",
                    headers=auth(other.api_key))  # fmt: skip
    assert r.status_code == 404  # the other's own webhook id does not open this delivery
    before = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == before
    assert client.get(url, headers=auth(owner.api_key)).json()["attempts"] == attempts


def test_an_attempt_recorded_before_durations_were_measured_still_projects(
    node: Container, client: TestClient, receiver: Receiver
) -> None:
    """An attempt event from an older log, with no ``duration_ms``, is read with no
    duration, live and after a rebuild."""
    c = new_customer(node)
    hook = _subscribe(client, c.api_key, receiver.url)
    new_items(node, c.record.id)
    [delivery] = _delivery_ids(node)
    body = {"delivery_id": delivery, "subscription_id": hook, "attempt": 1,
            "at": format_time(node.ctx.clock.now()), "ok": True, "status": 200, "error": None,
            "state": "delivered", "next_attempt_at": None}  # fmt: skip
    with node.store.write(node.ctx.site) as uow:
        uow.append([NewEvent(WebhookDeliveryAttempted.TYPE, body)])
    url = f"/api/v1/webhooks/{hook}/deliveries/{delivery}"
    attempts = client.get(url, headers=auth(c.api_key)).json()["attempts"]
    assert [(a["attempt"], a["status"], a["duration_ms"]) for a in attempts] == [(1, 200, None)]
    before = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == before


def test_a_partner_lists_only_its_own_quarantine(
    node: Container, client: TestClient, clock: ManualClock
) -> None:
    """Two partners quarantine events for unknown items; each sees only its own; a customer
    is refused; a bad status is a 422 naming the field."""
    usps = partner_key(node, ("USJFKA",), "USPS")
    canada = partner_key(node, ("CAYTOA",), "Canada Post")
    first, second = str(S10("LA", 10_000_000, "GB")), str(S10("LA", 10_000_001, "GB"))
    clock.advance(hours=1)
    at = "2026-11-02T09:55:00+00:00"
    for key, item_id, office in ((usps, first, "USJFKA"), (canada, second, "CAYTOA")):
        ev = {**EVENT, "item_id": item_id, "office": office, "occurred_at": at}
        r = client.post("/api/v1/partner/events", json={"events": [ev]}, headers=auth(key))
        assert r.json()["quarantined"] == 1, r.text
    url = "/api/v1/partner/quarantine"
    mine = client.get(url, headers=auth(usps)).json()["events"]
    theirs = client.get(url, headers=auth(canada)).json()["events"]
    assert [(e["item_id"], e["office"]) for e in mine] == [(first, "USJFKA")]
    assert [(e["item_id"], e["office"]) for e in theirs] == [(second, "CAYTOA")]
    assert mine[0]["partner_id"] != theirs[0]["partner_id"]
    customer = new_customer(node)
    assert client.get(url, headers=auth(customer.api_key)).status_code == 403
    assert client.get(url).status_code == 401
    bad = client.get(url, params={"status": "lost"}, headers=auth(usps))
    assert (bad.status_code, bad.json()["field"], bad.json()["rule"]) == (422, "status", "one_of")
    clock.advance(minutes=1)
    new_items(node, customer.record.id, 2)  # both arrive: USPS's attaches, Canada's is refused
    assert client.get(url, headers=auth(usps)).json()["events"] == []
    attached = client.get(url, params={"status": "attached"}, headers=auth(usps)).json()
    assert [e["item_id"] for e in attached["events"]] == [first]
    refused = client.get(url, params={"status": "refused"}, headers=auth(usps)).json()
    assert refused["events"] == []


@pytest.mark.parametrize("table", ["webhook_deliveries", "webhook_attempts", "partner_quarantine"])
def test_migrations_create_the_declared_tracking_tables(node: Container, table: str) -> None:
    """Columns and indexes of the tables changed by migration 0009 match their declaration."""
    from postex.tracking.sql import schema as tracking_schema

    declared = getattr(tracking_schema, table)
    found = inspect(node.engine)
    assert [c["name"] for c in found.get_columns(table)] == [c.name for c in declared.columns]
    assert {i["name"] for i in found.get_indexes(table)} == {i.name for i in declared.indexes}


def test_worker_name_fits_the_lease_column(tmp_path: Path) -> None:
    """A claimant is at most 64 characters, whatever the host name."""
    from postex.tracking.app.webhooks import worker_name
    from postex.tracking.sql.schema import webhook_deliveries

    assert webhook_deliveries.c.claimed_by.type.length == 64
    assert 0 < len(worker_name()) <= 64 - 13
