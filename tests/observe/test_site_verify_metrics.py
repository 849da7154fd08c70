"""`postex verify` on a site is recorded, so postex_verify_* say how the last run went there
too (issue #17: before, only a hub's `verify --hub` runs were)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from postex.bootstrap import Container
from postex.cli.main import app
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres
from postex.server import create_app
from tests.factories import new_customer, new_items
from tests.observe.test_metrics import scrape, value

runner = CliRunner()


def verify(node: Container) -> int:
    home = str(node.settings.home)
    args = ["verify", "--db", node.settings.db_url, "--home", home, "--json", "--not-against-hub"]
    result = runner.invoke(app, args)
    json.loads(result.stdout)  # still exactly one JSON document
    return result.exit_code


def test_site_verify_runs_are_counted_and_the_last_one_gauged(node: Container) -> None:
    customer = new_customer(node)
    new_items(node, customer.record.id, 3)
    with TestClient(create_app(node)) as client:
        before = scrape(client)
        assert value(before, "postex_verify_runs_total", outcome="ok") == 0
        assert "postex_verify_last_ok" not in before or not before["postex_verify_last_ok"]
        assert verify(node) == 0
        after = scrape(client)
        assert value(after, "postex_verify_runs_total", outcome="ok") == 1
        assert value(after, "postex_verify_last_ok") == 1
        assert 0 <= value(after, "postex_verify_last_age_seconds") < 120
        sql = "UPDATE events SET body = ? WHERE seq = 2"
        (body,) = execute_raw(node.engine, "SELECT body FROM events WHERE seq = 2")[0]
        changed = bytearray(bytes(body))
        changed[20] ^= 0x01
        execute_raw(node.engine, sql.replace("?", "%s") if is_postgres(node.engine) else sql,
                    [bytes(changed)])  # fmt: skip
        assert verify(node) == 1
        failed = scrape(client)
        assert value(failed, "postex_verify_runs_total", outcome="failed") == 1
        assert value(failed, "postex_verify_runs_total", outcome="ok") == 1
        assert value(failed, "postex_verify_last_ok") == 0
