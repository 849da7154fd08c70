"""Sites of one network issue S10 ids from their own sub-blocks: never the same id twice."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from postex.bootstrap import Container
from postex.items.app.preadvice import pre_advise
from postex.items.domain.items import parse_pre_advice
from postex.kernel.ids import S10
from postex.kernel.network import load_network
from postex.kernel.reference import services
from tests.conftest import make_node
from tests.factories import item_payload, new_customer

SERVICES = ("tracked", "parcel", "express", "signed", "standard_letter")


def _issue(node: Container, customer_id: str, rounds: int, per_round: int) -> list[str]:
    ids: list[str] = []
    for r in range(rounds):
        advices = [
            parse_pre_advice(item_payload(service=SERVICES[(r + i) % len(SERVICES)]))
            for i in range(per_round)
        ]
        ids += [rec.id for rec in pre_advise(node.ctx, customer_id, advices)]
    return ids


def _within_own_part(site: str, item_ids: list[str]) -> bool:
    slot = load_network().serial_slot(site)
    for text in item_ids:
        s10 = S10.parse(text)
        svc = services().by_prefix(s10.prefix)
        assert svc is not None
        low, high = slot.block(svc.serial_first, svc.serial_last)
        if not low <= s10.serial <= high:
            return False
    return True


def test_two_sites_issue_many_ids_and_none_collide(tmp_path: Path, db_url: str) -> None:
    """Heathrow (on the parametrised store) and Gatwick (SQLite) each issue 300 ids of
    every service: the sets are disjoint, each in its own part, consecutive within it."""
    heathrow = make_node(tmp_path / "lala", db_url, site="GBLALA", role="site")
    gatwick = make_node(
        tmp_path / "lgwa", f"sqlite:///{tmp_path / 'lgwa.db'}", site="GBLGWA", role="site"
    )
    try:
        a = _issue(heathrow, new_customer(heathrow).record.id, rounds=6, per_round=50)
        b = _issue(gatwick, new_customer(gatwick).record.id, rounds=6, per_round=50)
    finally:
        heathrow.close()
        gatwick.close()
    assert len(set(a)) == len(a) == 300 and len(set(b)) == len(b) == 300
    assert not set(a) & set(b)
    assert _within_own_part("GBLALA", a) and _within_own_part("GBLGWA", b)
    gatwick_la = sorted(S10.parse(i).serial for i in b if i.startswith("LA"))
    assert gatwick_la == list(range(21_250_000, 21_250_000 + len(gatwick_la)))


def test_a_store_holding_other_sites_items_still_issues_from_its_own_part(
    tmp_path: Path, db_url: str
) -> None:
    """Even when one store holds items of two sites (a hub, a restored copy), each site
    continues after the highest id of its own part, not after the other site's."""
    node = make_node(tmp_path / "n", db_url, site="GBLALA", role="site")
    try:
        gatwick_ctx = dataclasses.replace(
            node.ctx, site="GBLGWA", serial_slot=load_network().serial_slot("GBLGWA")
        )
        customer = new_customer(node).record.id
        advice = parse_pre_advice(item_payload())
        first = pre_advise(node.ctx, customer, [advice] * 3)
        other = pre_advise(gatwick_ctx, customer, [advice] * 3)
        again = pre_advise(node.ctx, customer, [advice] * 2)
    finally:
        node.close()
    serials = [S10.parse(r.id).serial for r in (*first, *other, *again)]
    assert serials == [
        10_000_000, 10_000_001, 10_000_002,
        21_250_000, 21_250_001, 21_250_002,
        10_000_003, 10_000_004,
    ]  # fmt: skip


def test_a_single_node_issues_from_the_whole_block_as_before(tmp_path: Path, db_url: str) -> None:
    node = make_node(tmp_path / "single", db_url)
    try:
        assert node.ctx.serial_slot is None
        records = pre_advise(
            node.ctx, new_customer(node).record.id, [parse_pre_advice(item_payload())] * 3
        )
    finally:
        node.close()
    assert [S10.parse(r.id).serial for r in records] == [10_000_000, 10_000_001, 10_000_002]
