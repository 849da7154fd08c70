"""Two sites scanning the same item at the same instant: exactly one accepts it."""

from __future__ import annotations

import threading
from pathlib import Path

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres
from postex.kernel.errors import ValidationError
from postex.sites.app.acceptance import Scan, accept
from tests.conftest import make_node
from tests.factories import Staff, letters, staff

ROUNDS = 12


def _race(
    scanners: list[tuple[Container, Staff, str]], scan: Scan
) -> tuple[list[str], list[BaseException]]:
    """Every scanner scans ``scan`` at its site at once: (sites that won, what the rest got)."""
    start = threading.Barrier(len(scanners))
    won: list[str] = []
    lost: list[BaseException] = []

    def run(node: Container, who: Staff, site: str) -> None:
        start.wait()
        try:
            accept(node.site_ops, who.principal, site, [scan])
            won.append(site)
        except BaseException as exc:  # judged by the caller
            lost.append(exc)

    threads = [threading.Thread(target=run, args=s) for s in scanners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return won, lost


def test_two_sites_racing_to_accept_one_item_accept_it_once(tmp_path: Path, db_url: str) -> None:
    """Two nodes (two engines) at two sites scan each item at once: one wins, the other is
    told the item is accepted already (422 state_accepted), never a database error, and only
    the winner's log records the acceptance."""
    first = make_node(tmp_path / "a", db_url, site="GBLALA")
    second = make_node(tmp_path / "b", db_url, site="GBLGWA")
    try:
        scanners = [
            (first, staff(first, "clerk", "GBLALA"), "GBLALA"),
            (second, staff(first, "clerk", "GBLGWA"), "GBLGWA"),
        ]
        items = letters(first, ROUNDS, 0)
        ph = "%s" if is_postgres(first.engine) else "?"
        for item in items:
            won, lost = _race(scanners, Scan(item.id, item.weight_g))
            assert len(won) == 1, (won, lost)
            assert len(lost) == 1 and isinstance(lost[0], ValidationError), repr(lost)
            assert lost[0].errors[0].rule == "state_accepted"
            rows = execute_raw(
                first.engine, f"SELECT site FROM item_handling WHERE item_id = {ph}", [item.id]
            )
            assert [r[0] for r in rows] == won
        accepted = execute_raw(
            first.engine, "SELECT count(*) FROM events WHERE type = 'item.accepted.v1'"
        )
        assert accepted[0][0] == ROUNDS
    finally:
        first.close()
        second.close()
