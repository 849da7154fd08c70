"""A chore that fails is logged by class and frames only: its message may quote stored
data (a name, an address), so it never reaches the log; the next round still runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex import bootstrap
from postex.bootstrap import Chore
from postex.cli.main import app
from postex.server import run_chores

MARK = "Zqxv Quincey, 2200 Juniper Boulevard"


def _failing() -> int:
    raise ValueError(f"cannot deliver to {MARK}")


def test_serve_logs_a_failing_chore_without_its_message(caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[int] = []

    def counting() -> int:
        rounds.append(1)
        return 0

    async def two_rounds() -> None:
        task = asyncio.create_task(
            run_chores(
                [Chore("deliver", "delivered", _failing), Chore("count", "n", counting)], 0.01
            )
        )
        while len(rounds) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.DEBUG):
        asyncio.run(two_rounds())
    text = caplog.text
    assert "deliver round failed" in text and "ValueError" in text
    assert "Zqxv" not in text and "Juniper" not in text


def test_the_worker_logs_a_failing_chore_without_its_message_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert CliRunner().invoke(app, ["init", "--home", str(tmp_path)]).exit_code == 0
    monkeypatch.setattr(bootstrap, "chores", lambda c: [Chore("deliver", "delivered", _failing)])
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(app, ["worker", "--once", "--home", str(tmp_path)])
    assert result.exit_code == 2, result.output
    everything = result.output + caplog.text
    assert "ValueError" in everything and "chore round(s) failed" in result.output
    assert "Zqxv" not in everything and "Juniper" not in everything
