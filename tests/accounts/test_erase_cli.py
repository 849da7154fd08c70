"""`postex customers erase` tells the operator what the erasure does not reach yet.

Backups taken before the erasure (and the hub's copy) hold the customer's data key wrapped
under the current KEK: until `postex keys rotate` and the old backups age out, they still
open the customer's data (issue #15 part 8).
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from postex.accounts.app.customers import CustomerRepository, erase_customer
from postex.bootstrap import Container
from postex.cli.main import app
from postex.eventlog.sql.admin import execute_raw
from tests.factories import new_customer

runner = CliRunner()


def _customer(home: Path) -> str:
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    made = runner.invoke(app, ["customers", "create", "--name", "Ann Trader", "--json",
                               "--home", str(home)])  # fmt: skip
    assert made.exit_code == 0, made.output
    return str(json.loads(made.stdout)["id"])


def test_erase_says_backups_and_the_kek_still_open_the_data(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cus = _customer(home)
    result = runner.invoke(app, ["customers", "erase", cus, "--yes", "--home", str(home)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"erased {cus}" in text
    assert "backups" in text and "postex keys rotate" in text and "KEK" in text


def test_erase_json_reports_the_remaining_copies(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cus = _customer(home)
    no_yes = runner.invoke(app, ["customers", "erase", cus, "--json", "--home", str(home)])
    assert no_yes.exit_code == 2 and json.loads(no_yes.stdout)["ok"] is False
    result = runner.invoke(app, ["customers", "erase", cus, "--yes", "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["id"] == cus and doc["erased"] is True
    assert "backups" in doc["remaining_copies"] and "KEK" in doc["remaining_copies"]
    assert any("postex keys rotate" in step for step in doc["next_steps"])


def test_erasure_blanks_the_account_name_in_the_projections(node: Container) -> None:
    """The customers and credentials rows lose the name at erasure, and again on rebuild."""
    customer = new_customer(node, "Ann Trader (sole trader)")
    cus = customer.record.id

    def names() -> list[str]:
        rows = execute_raw(node.engine, "SELECT name FROM customers")
        rows += execute_raw(node.engine, "SELECT name FROM credentials WHERE kind = 'customer'")
        return [r[0] for r in rows]

    assert "Ann Trader (sole trader)" in names()
    erase_customer(node.ctx, cus, reason="erasure request")
    assert "Ann Trader (sole trader)" not in names()
    with node.ctx.store.read() as uow:
        record = uow.repo(CustomerRepository).get(cus)
    assert record is not None and record.erased_at is not None and record.name == ""
    node.rebuilder.rebuild()
    assert "Ann Trader (sole trader)" not in names()


def test_migration_0020_blanks_names_erased_before_it(node: Container) -> None:
    """A store whose erased accounts kept their names (before 0020) loses them on upgrade."""
    from alembic import command

    from postex.eventlog.sql.migrate import alembic_config, upgrade

    customer = new_customer(node, "Ann Trader (sole trader)")
    erase_customer(node.ctx, customer.record.id, reason="erasure request")
    with node.engine.begin() as conn:  # as the projections left it before 0020
        conn.exec_driver_sql("UPDATE customers SET name = 'Ann Trader (sole trader)'")
        conn.exec_driver_sql("UPDATE credentials SET name = 'Ann Trader (sole trader)'")
        heads = [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.stamp(cfg, "0019")
    upgrade(node.engine, "0020")  # only 0020: the later ones are applied already
    with node.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.stamp(cfg, heads, purge=True)  # as it was: later tests share the database
    [(name,)] = execute_raw(node.engine, "SELECT name FROM customers")
    assert name == ""
    assert execute_raw(
        node.engine, "SELECT DISTINCT name FROM credentials WHERE kind = 'customer'"
    ) == [("",)]
