"""Idempotency answers expire after the retention; the worker purges them in batches.

The clock is injected (never slept through): the node's store and use cases read the same
ManualClock, which the test moves past the retention.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select
from typer.testing import CliRunner

from postex.bootstrap import Container, build
from postex.cli.main import app
from postex.config import load_settings
from postex.items.app.idempotency import expiry_chore, purge_expired
from postex.items.events import IdempotentAnswersExpired
from postex.items.sql.customer_api import idempotency_answers
from postex.kernel.errors import ConfigurationError
from postex.server import create_app
from tests.factories import Caller, ManualClock, item_payload, make_caller

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def _post(client: TestClient, caller: Caller, key: str, reference: str) -> tuple[int, str, bool]:
    r = client.post(
        "/api/v1/items",
        json=item_payload(reference=reference),
        headers={**caller.headers, "Idempotency-Key": key},
    )
    return r.status_code, r.json().get("id", ""), r.headers.get("Idempotent-Replayed") == "true"


def _answers(node: Container) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(idempotency_answers)).scalar())


def test_key_replays_within_retention_and_is_free_after(
    node: Container, clock: ManualClock
) -> None:
    """Same key: replayed at 23 h 59 min; after 24 h a new request is answered anew."""
    alice = make_caller(node, "Alice")
    with TestClient(create_app(node)) as client:
        status, first, replayed = _post(client, alice, "order-7", "EXP-1")
        assert (status, replayed) == (201, False)
        clock.advance(hours=23, minutes=59)
        assert _post(client, alice, "order-7", "EXP-1") == (201, first, True)
        conflict = client.post(
            "/api/v1/items",
            json=item_payload(reference="EXP-2"),
            headers={**alice.headers, "Idempotency-Key": "order-7"},
        )
        assert (conflict.status_code, conflict.json()["rule"]) == (409, "idempotency_key_reused")
        clock.advance(minutes=2)
        # Expired but not purged yet: the key is free, for another body too.
        status, second, replayed = _post(client, alice, "order-7", "EXP-2")
        assert (status, replayed) == (201, False)
        assert second != first
        # The new answer replaces the old one and is replayed from now on.
        assert _post(client, alice, "order-7", "EXP-2") == (201, second, True)
    assert _answers(node) == 1


def test_purge_removes_only_expired_answers_in_batches(node: Container, clock: ManualClock) -> None:
    """Bounded batches, oldest first; fresh answers stay; a rebuild agrees with live."""
    alice, bob = make_caller(node, "Alice"), make_caller(node, "Bob")
    with TestClient(create_app(node)) as client:
        for n in range(5):
            assert _post(client, alice, f"a-{n}", f"A-{n}")[0] == 201
        assert _post(client, bob, "b-0", "B-0")[0] == 201
        clock.advance(hours=12)
        fresh = _post(client, bob, "b-1", "B-1")
        assert purge_expired(node.ctx, timedelta(hours=24)) == 0  # nothing old enough
        clock.advance(hours=13)  # the first six are 25 h old, b-1 13 h
        assert purge_expired(node.ctx, timedelta(hours=24), limit=4) == 4
        assert _answers(node) == 3
        chore = expiry_chore(node.ctx, 24)
        assert chore() == 2
        assert chore() == 0
        assert _answers(node) == 1
        assert _post(client, bob, "b-1", "B-1") == (201, fresh[1], True)
    expiries = [
        e for e in node.store.read_events("GBLALA") if e.type == IdempotentAnswersExpired.TYPE
    ]
    assert [len(e.data["keys"]) for e in expiries] == [4, 2]
    live = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live


def test_retention_setting_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="idempotency_retention_hours"):
        load_settings(home=str(tmp_path), idempotency_retention_hours=0)
    assert load_settings(home=str(tmp_path)).idempotency_retention_hours == 24


def test_postex_worker_once_purges_expired_answers(tmp_path: Path, sqlite_url: str) -> None:
    """`postex worker --once` (real clock) purges answers recorded two days earlier."""
    home = tmp_path / "home"
    past = ManualClock(datetime.now(UTC) - timedelta(days=2))
    node = build(
        load_settings(home=str(home), db_url=sqlite_url, webhook_worker_seconds=0),
        create=True,
        clock=past,
    )
    alice = make_caller(node, "Alice")
    with TestClient(create_app(node)) as client:
        assert _post(client, alice, "old-1", "OLD-1")[0] == 201
    node.close()
    ran = CliRunner().invoke(app, ["worker", "--once", "--db", sqlite_url, "--home", str(home)])
    assert ran.exit_code == 0, ran.output
    assert "1 expired idempotency answers purged" in ran.output
    check = build(load_settings(home=str(home), db_url=sqlite_url, webhook_worker_seconds=0))
    try:
        assert _answers(check) == 0
    finally:
        check.close()


@pytest.mark.parametrize("table", ["idempotency_answers", "item_references", "api_rate_windows"])
def test_migrations_create_the_declared_customer_api_tables(node: Container, table: str) -> None:
    """Columns and indexes after migrations 0003, 0011 and 0013 match the declaration."""
    from postex.items.sql import customer_api

    declared = getattr(customer_api, table)
    found = inspect(node.engine)
    assert [c["name"] for c in found.get_columns(table)] == [c.name for c in declared.columns]
    assert {i["name"] for i in found.get_indexes(table)} == {i.name for i in declared.indexes}
