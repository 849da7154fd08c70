"""Despatch numbers stay gapless per series when supervisors on two nodes close at once."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from postex.kernel.dispatch_ids import ReceptacleId
from postex.kernel.errors import InvalidStateError
from postex.sites.app import despatches as dsp
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from tests.conftest import make_node
from tests.factories import SERIES, SITE, letters, staff

BAGS = 16
THREADS = 8


def test_concurrent_closing_and_composing_numbers_despatches_without_gaps(
    tmp_path: Path, db_url: str
) -> None:
    """Eight threads over two stores (two engines, so the database lock decides) number 1…16."""
    first = make_node(tmp_path / "a", db_url)
    # Two processes of one site share its keys (the log key authenticates every append).
    shutil.copytree(tmp_path / "a" / "keys", tmp_path / "b" / "keys")
    second = make_node(tmp_path / "b", db_url)
    try:
        clerk, boss = staff(first, "clerk"), staff(first, "supervisor")
        items = letters(first, BAGS, 0)
        accept(first.site_ops, clerk.principal, SITE, [Scan(i.id, i.weight_g) for i in items])
        bags = []
        for item in items:
            bag = rcp.open_receptacle(first.site_ops, clerk.principal, SITE, **SERIES)
            rcp.add_items(first.site_ops, clerk.principal, SITE, bag.id, [item.id])
            bags.append(bag.id)
        made: list[str] = []
        failures: list[BaseException] = []

        def work(n: int) -> None:
            ops = (first if n % 2 else second).site_ops
            try:
                for rid in bags[n::THREADS]:
                    while True:
                        try:
                            closed = rcp.close_receptacle(
                                ops, clerk.principal, SITE, rid, 1000, True
                            )
                            break
                        except InvalidStateError:  # another despatch's last bag is pending
                            time.sleep(0.005)
                    made.append(dsp.compose(ops, boss.principal, SITE, [closed.s9]).id)
            except BaseException as exc:  # reported below, with the thread's context
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not failures, failures
        serials = sorted(int(d[-4:]) for d in made)
        assert serials == list(range(1, BAGS + 1))
        for rec in rcp.list_receptacles(first.site_ops, boss.principal, SITE):
            assert rec.s9 and str(ReceptacleId.parse(rec.s9).despatch) == rec.despatch_id
    finally:
        first.close()
        second.close()
