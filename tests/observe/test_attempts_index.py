"""/metrics reads the last hour's webhook attempts by time: webhook_attempts(at) is indexed
(migration 0024), and SQLite's plan uses it rather than reading the whole table."""

from __future__ import annotations

from sqlalchemy import inspect

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres


def test_webhook_attempts_at_is_indexed_and_used(node: Container) -> None:
    indexes = {i["name"]: i["column_names"] for i in inspect(node.engine).get_indexes(
        "webhook_attempts")}  # fmt: skip
    assert indexes.get("ix_attempts_at") == ["at"]
    if not is_postgres(node.engine):
        plan = execute_raw(node.engine, "EXPLAIN QUERY PLAN SELECT status FROM webhook_attempts"
                           " WHERE at >= '2026-01-01T00:00:00Z'")  # fmt: skip
        assert any("ix_attempts_at" in str(row) for row in plan), plan


def test_migration_0024_indexes_a_database_made_before_it(node: Container) -> None:
    from alembic import command

    from postex.eventlog.sql.migrate import alembic_config, upgrade

    with node.engine.begin() as conn:  # as a database at 0020 was: no index, 0024 not run
        conn.exec_driver_sql("DROP INDEX ix_attempts_at")
        heads = [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.stamp(cfg, "0020", purge=True)
    upgrade(node.engine, "0024")  # only 0024: the other branches' later ones are applied
    with node.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.stamp(cfg, heads, purge=True)  # as it was: later tests share the database
    names = {i["name"] for i in inspect(node.engine).get_indexes("webhook_attempts")}
    assert "ix_attempts_at" in names
