"""Scheduled holds take effect at their start in a background worker round, once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from postex.accounts.app.auth import Role
from postex.bootstrap import Container, build
from postex.cli.main import app
from postex.config import load_settings
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres
from postex.incidents.app.holds import activate_due, activation_chore, get_hold, place_hold
from tests.conftest import make_node
from tests.factories import ManualClock, new_customer, new_items
from tests.incidents.incident_helpers import accept_items, item_state, staff

LALA = {"scope": {"sites": ["GBLALA"]}, "reason": "power cut", "advisory": "Heathrow paused."}


def _count(node: Container, sql: str, *params: object) -> int:
    if is_postgres(node.engine):
        sql = sql.replace("?", "%s")
    return int(execute_raw(node.engine, sql, params)[0][0])


def _activations(node: Container) -> int:
    return _count(node, "SELECT count(*) FROM events WHERE type = ?", "hold.activated.v1")


def _scheduled(node: Container, start: datetime, n: int = 2) -> tuple[str, list[str]]:
    """n accepted items at GBLALA and a GBLALA hold scheduled to start at ``start``."""
    customer = new_customer(node)
    items = [i.id for i in new_items(node, customer.record.id, n)]
    accept_items(node, items)
    boss, _ = staff(node, "usr_sup", Role.SUPERVISOR, site="GBLALA")
    hold = place_hold(node.ctx, boss, {**LALA, "starts_at": start.isoformat()})
    assert hold.status(node.ctx.clock.now()) == "scheduled"
    return hold.id, items


def test_a_worker_round_holds_the_items_of_a_scheduled_hold_at_its_start(
    node: Container, clock: ManualClock
) -> None:
    """Before the start the chore does nothing; after it the items are held (EXD) without
    anyone reading holds, and a second round changes nothing."""
    hold_id, items = _scheduled(node, clock.now() + timedelta(hours=2))
    chore = activation_chore(node.ctx)
    assert chore() == 0
    clock.advance(hours=1, minutes=59)
    assert chore() == 0
    assert {item_state(node, i) for i in items} == {"accepted"}
    clock.advance(minutes=2)
    assert chore() > 0
    assert {item_state(node, i) for i in items} == {"held"}
    exd = _count(node, "SELECT count(*) FROM tracking_events WHERE code = ?", "EXD")
    assert exd == len(items)
    ops, _ = staff(node, "usr_ops", Role.OPS)
    hold = get_hold(node.ctx, ops, hold_id)
    assert hold.activated_at is not None and hold.held == len(items)
    head = node.store.head(node.ctx.site)
    assert chore() == 0
    assert node.store.head(node.ctx.site) == head
    assert _activations(node) == 1


def test_two_workers_on_one_store_activate_a_due_hold_once(
    node: Container, clock: ManualClock, tmp_path: Path
) -> None:
    """Two nodes' workers racing on the same database hold each item exactly once."""
    _hold_id, items = _scheduled(node, clock.now() + timedelta(minutes=10), n=3)
    settings = load_settings(
        home=str(tmp_path / "home"), db_url=node.settings.db_url, site="GBLALA",
        webhook_worker_seconds=0,
    )  # fmt: skip
    other = build(settings, clock=clock)
    try:
        clock.advance(minutes=11)
        start = threading.Barrier(2)
        done: list[int] = []
        errors: list[BaseException] = []

        def run(node: Container) -> None:
            start.wait()
            try:
                done.append(activate_due(node.ctx))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n,)) for n in (node, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(done)[0] == 0 and sorted(done)[1] > 0
        assert _activations(node) == 1
        assert _count(node, "SELECT count(*) FROM hold_items") == len(items)
        assert {item_state(node, i) for i in items} == {"held"}
    finally:
        other.close()


def test_postex_worker_once_activates_a_due_hold(tmp_path: Path, sqlite_url: str) -> None:
    """`postex worker --once` (real clock) activates a hold scheduled from an earlier time."""
    home = tmp_path / "home"
    past = ManualClock(datetime.now(UTC) - timedelta(hours=1))
    node = build(
        load_settings(home=str(home), db_url=sqlite_url, site="GBLALA", webhook_worker_seconds=0),
        create=True,
        clock=past,
    )
    _hold_id, items = _scheduled(node, past.now() + timedelta(minutes=30), n=1)
    node.close()
    where = ["--db", sqlite_url, "--home", str(home)]
    ran = CliRunner().invoke(app, ["worker", "--once", *where])
    assert ran.exit_code == 0, ran.output
    check = make_node(home, sqlite_url)
    try:
        assert item_state(check, items[0]) == "held"
        assert _activations(check) == 1
    finally:
        check.close()
    listed = CliRunner().invoke(app, ["holds", "list", "--json", *where])
    assert [h["status"] for h in json.loads(listed.stdout)["holds"]] == ["active"]
