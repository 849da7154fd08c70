"""A customer cancelling an item while a site accepts it: exactly one of the two happens.

Cancel writes to the node's own log, acceptance to the scanning site's; on PostgreSQL the
two run at once (one writer lock per site), so cancel takes the item's lock as acceptance
does and reads the state inside it. The loser is refused by the state rule, never a
database error, and the item's log holds exactly one of the two events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres
from postex.items.app.preadvice import cancel_item
from postex.kernel.errors import InvalidStateError, ValidationError
from postex.sites.app.acceptance import Scan, accept
from tests.conftest import make_node
from tests.factories import letters, staff

ROUNDS = 12


def _race(*writers: Callable[[], object]) -> tuple[list[int], list[BaseException]]:
    """Run every writer at once: (indexes of those that succeeded, what the others raised)."""
    start = threading.Barrier(len(writers))
    won: list[int] = []
    lost: list[BaseException] = []

    def run(i: int, write: Callable[[], object]) -> None:
        start.wait()
        try:
            write()
            won.append(i)
        except BaseException as exc:  # judged by the caller
            lost.append(exc)

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return won, lost


def _counts(node: Container) -> dict[str, int]:
    """How many cancellations and acceptances all logs hold."""
    rows = execute_raw(
        node.engine,
        "SELECT type, count(*) FROM events"
        " WHERE type IN ('item.cancelled.v1', 'item.accepted.v1') GROUP BY type",
    )
    return {"item.cancelled.v1": 0, "item.accepted.v1": 0, **{r[0]: r[1] for r in rows}}


def test_cancel_racing_acceptance_lets_exactly_one_win(tmp_path: Path, db_url: str) -> None:
    customer_node = make_node(tmp_path / "a", db_url, site="GBLALA")
    site_node = make_node(tmp_path / "b", db_url, site="GBLGWA")
    try:
        clerk = staff(customer_node, "clerk", "GBLGWA")
        items = letters(customer_node, ROUNDS, 0)
        ph = "%s" if is_postgres(customer_node.engine) else "?"
        outcomes = {0: 0, 1: 0}
        before = _counts(customer_node)
        for item in items:
            won, lost = _race(
                lambda item=item: cancel_item(customer_node.ctx, item.customer_id, item.id),
                lambda item=item: accept(
                    site_node.site_ops, clerk.principal, "GBLGWA", [Scan(item.id, item.weight_g)]
                ),
            )
            assert len(won) == 1 and len(lost) == 1, (won, lost)
            outcomes[won[0]] += 1
            if won == [0]:  # cancelled first: the site is told to hand it back
                assert isinstance(lost[0], ValidationError), repr(lost[0])
                assert lost[0].errors[0].rule == "state_cancelled"
            else:  # accepted first: the customer is told it is too late
                assert isinstance(lost[0], InvalidStateError), repr(lost[0])
                problem = lost[0].to_problem()
                assert (problem["rule"], problem["state"]) == ("illegal_transition", "accepted")
            expected = "item.cancelled.v1" if won == [0] else "item.accepted.v1"
            after = _counts(customer_node)
            assert after == {**before, expected: before[expected] + 1}, (before, after)
            before = after
            state = execute_raw(
                customer_node.engine, f"SELECT state FROM items WHERE id = {ph}", [item.id]
            )
            assert state[0][0] == ("cancelled" if won == [0] else "accepted")
        assert sum(outcomes.values()) == ROUNDS
    finally:
        customer_node.close()
        site_node.close()
