"""`postex --help` builds no node: the web app, the database and the drivers load only in the
command that needs them (checked by what a fresh interpreter imported, never by a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

# Each costs from tens of milliseconds (psycopg) to a second (the routes behind bootstrap)
# before the first line of help. pydantic is Typer's own, loaded to coerce option values:
# help never needs it (see postex.cli.common.Group).
HEAVY = (
    "sqlalchemy",
    "fastapi",
    "starlette",
    "uvicorn",
    "reportlab",
    "nats",
    "psycopg",
    "pydantic",
    "postex.bootstrap",
)

# Runs what `python -m postex ARGS` runs, then reports the exit code, the output and every
# module the interpreter holds.
PROBE = """
import contextlib, io, json, sys
from postex.cli.main import main
sys.argv = ["postex", *sys.argv[1:]]
code = None
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main()
    except SystemExit as exit:
        code = exit.code
print(json.dumps({"code": code, "output": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def run_fresh(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("holds", "--help"),
        ("bench", "--help"),
        ("holds", "place", "--help"),
        ("users", "sessions", "end", "--help"),
        (),
    ],
    ids=" ".join,
)
def test_help_imports_no_web_app_database_or_driver(args: tuple[str, ...]) -> None:
    """`postex [GROUP [COMMAND]] --help` prints its help without importing the web app,
    SQLAlchemy, a database or NATS driver, reportlab or the composition root."""
    result = run_fresh(*args)
    assert result["code"] in (0, 2)  # no arguments: help, then exit 2 as a usage error
    assert "Usage" in result["output"]
    modules = set(result["modules"])
    loaded = [m for m in HEAVY if m in modules or any(n.startswith(m + ".") for n in modules)]
    assert loaded == []


def test_every_benchmark_is_registered_without_importing_it() -> None:
    """`postex bench --help` lists every benchmark while no benchmark module is imported."""
    result = run_fresh("bench", "--help")
    output = result["output"]
    for name in ("append", "verify", "holds", "manifest", "rate-limit", "replication", "site",
                 "tracking", "labels"):  # fmt: skip
        assert name in output
    modules = set(result["modules"])
    assert sorted(m for m in modules if m.startswith("postex.bench.")) == ["postex.bench.cli"]
