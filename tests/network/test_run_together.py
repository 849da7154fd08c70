"""The replication commands run the publisher and the follower side by side: when one fails,
the other is cancelled and awaited before the error is raised, so nothing is left to fail
unawaited while the loop shuts down (a traceback a refused password once printed)."""

from __future__ import annotations

import asyncio

import pytest

from postex.network.cli.loops import run_together


class RefusedError(Exception):
    pass


def test_the_first_failure_cancels_and_awaits_the_others() -> None:
    seen: list[str] = []

    async def fails() -> None:
        await asyncio.sleep(0)
        raise RefusedError("refused")

    async def fails_when_cancelled() -> None:
        # Like the publisher: cancelled while connecting, it fails with its own error.
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise RefusedError("the same refusal, later") from None

    async def main() -> None:
        with pytest.raises(RefusedError, match=r"^refused$"):
            await run_together(fails(), fails_when_cancelled())
        seen.append("raised")
        # Nothing of ours is still pending on the loop.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert pending == []

    asyncio.run(main())
    assert seen == ["cancelled", "raised"]


def test_runs_that_end_well_all_finish() -> None:
    done: list[int] = []

    async def run(n: int) -> None:
        await asyncio.sleep(0.01 * n)
        done.append(n)

    asyncio.run(run_together(run(2), run(1)))
    assert sorted(done) == [1, 2]
