"""Every benchmark still runs end to end on tiny sizes (no timing is asserted: the figures
belong in docs/benchmarks.md, measured with `postex bench`, never in a test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex.cli.main import app
from tests.conftest import PG_URL, need_service

runner = CliRunner()


def bench(*args: str) -> str:
    result = runner.invoke(app, ["bench", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(autouse=True)
def no_implicit_postgres_half(monkeypatch: pytest.MonkeyPatch) -> None:
    """`bench append|verify` add a PostgreSQL half when POSTEX_TEST_DATABASE_URL is set;
    these runs ask for it explicitly with --postgres instead."""
    monkeypatch.delenv("POSTEX_TEST_DATABASE_URL", raising=False)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_append_and_verify_benchmarks_run(kind: str) -> None:
    extra: list[str] = []
    if kind == "postgres":
        need_service("PostgreSQL", PG_URL, "POSTEX_TEST_DATABASE_URL")
        extra = ["--postgres", PG_URL]
    out = bench("append", "--events", "2000", "--batch", "500", "--rounds", "1", *extra)
    assert "own bulk insert" in out and ("postgres" in out) == (kind == "postgres")
    out = bench("verify", "--events", "2000", "--rounds", "1", *extra)
    assert "read+hash" in out
    out = bench("authlog", "--events", "1000", "--batch", "250", "--rounds", "2", *extra)
    assert "bench authlog" in out and ("postgres" in out) == (kind == "postgres")


def test_site_data_benchmarks_run(tmp_path: Path) -> None:
    bench("manifest", "--items", "200", "--runs", "1", "--home", str(tmp_path / "h1"))
    bench(
        "holds", "--items", "300", "--batch", "100", "--runs", "1", "--home", str(tmp_path / "h2")
    )
    bench("site", "--items", "200", "--home", str(tmp_path / "h3"))


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_console_benchmark_scans_through_both_paths(kind: str) -> None:
    """Every scan of both paths must be accepted, or the benchmark exits 2."""
    extra: list[str] = []
    if kind == "postgres":
        need_service("PostgreSQL", PG_URL, "POSTEX_TEST_DATABASE_URL")
        extra = ["--postgres", PG_URL]
    out = bench("console", "--clerks", "2", "--scans", "10", "--rounds", "1", *extra)
    assert "ratio console / JSON" in out and ("postgres" in out) == (kind == "postgres")


def test_portal_benchmark_uploads_through_both_paths_and_prints_a_batch() -> None:
    """Every upload of both paths must store its items and the batch PDF must come back,
    or the benchmark exits 2."""
    out = bench("portal", "--items", "50", "--rounds", "1", "--labels", "20")
    assert "ratio portal / API" in out and "batch PDF of 20 labels" in out


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_eventsourcing_comparison_runs_both_sides(kind: str) -> None:
    """Both sides store every item they were sent (the benchmark checks eventsourcing's
    count itself and fails otherwise); skipped where the compare extra is not installed."""
    from postex.bench.compare import missing

    why = missing()
    if why is not None:
        pytest.skip(why)
    extra: list[str] = []
    if kind == "postgres":
        need_service("PostgreSQL", PG_URL, "POSTEX_TEST_DATABASE_URL")
        extra = ["--postgres", PG_URL]
    out = bench("eventsourcing", "--events", "200", "--batch", "100", "--rounds", "2", *extra)
    assert "bench eventsourcing" in out and ("postgres" in out) == (kind == "postgres")


def test_eventsourcing_comparison_explains_how_to_install_when_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "eventsourcing.application", None)  # as if not installed
    result = runner.invoke(app, ["bench", "eventsourcing", "--events", "100", "--batch", "100"])
    assert result.exit_code == 2
    assert "pip install -e '.[compare]'" in result.output
