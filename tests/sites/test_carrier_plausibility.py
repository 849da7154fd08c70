"""Carrier receipts (RESDIT) that cannot have happened when they say are refused.

Regressions (issue 15): a receipt (74) stamped before the handover was accepted (custody
before handover), and a delivery (21) eight hours in the future set ``delivered_at`` in
the future. Tolerances: kernel.plausibility (5 minutes either way).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.sites.app import despatches as dsp
from tests.factories import SITE, letters, partner, staff
from tests.sites.test_site_day import resdit
from tests.sites.test_site_messages import PLAN, _despatch

URL = "/api/v1/partner/resdit"


def _handed_over(node: Container) -> tuple[str, str]:
    """A despatch of one bag, handed to BA now; its id and the bag's S9."""
    did = _despatch(node, [[i.id for i in letters(node, 1, 0)]])
    boss = staff(node, "supervisor", name="boss.handover")
    dsp.hand_over(node.site_ops, boss.principal, SITE, did, *PLAN)
    s9 = execute_raw(node.engine, "SELECT s9 FROM receptacles")[0][0]
    return did, s9


def _stamp(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat(timespec="seconds")


def _despatch_row(node: Container, did: str) -> tuple[str, str | None, str | None]:
    [row] = execute_raw(
        node.engine,
        "SELECT state, custody_at, delivered_at FROM despatches WHERE id = ?"
        if "sqlite" in node.settings.db_url
        else "SELECT state, custody_at, delivered_at FROM despatches WHERE id = %s",
        (did,),
    )
    return row[0], row[1], row[2]


@pytest.mark.parametrize(
    ("events", "at", "rule"),
    [
        ((("74",)), {"hours": -3}, "before_handover"),
        ((("74",)), {"minutes": -10}, "before_handover"),
        ((("21",)), {"hours": 8}, "in_future"),
        ((("74", "21")), {"minutes": 10}, "in_future"),
    ],
    ids=["custody-3h-before-handover", "custody-10min-before", "delivery-8h-ahead", "ahead"],
)
def test_implausible_receipts_are_refused_and_change_nothing(
    node: Container, client: TestClient, events: tuple[str, ...], at: dict[str, float], rule: str
) -> None:
    """422 naming the event's OccurredAt and the rule; the despatch is unchanged."""
    carrier = partner(node)
    did, s9 = _handed_over(node)
    before = node.rebuilder.projection_digest()
    document = resdit(*[(s9, code) for code in events], at=_stamp(**at))
    r = client.post(URL, content=document, headers=carrier.headers)
    assert r.status_code == 422, r.text
    assert (r.json()["field"], r.json()["rule"]) == ("event[1].OccurredAt", rule)
    assert node.rebuilder.projection_digest() == before
    assert _despatch_row(node, did) == ("handed_over", None, None)


def test_a_delivery_before_the_carriers_own_receipt_is_refused(
    node: Container, client: TestClient
) -> None:
    """A 21 more than 5 minutes before the 74 already recorded (both after the handover,
    within the clock skew): before_custody."""
    carrier = partner(node)
    did, s9 = _handed_over(node)
    receipt = resdit((s9, "74"), at=_stamp(minutes=4, seconds=30))
    assert client.post(URL, content=receipt, headers=carrier.headers).status_code == 200
    late = resdit((s9, "21"), at=_stamp(minutes=-2))
    r = client.post(URL, content=late, headers=carrier.headers)
    assert (r.status_code, r.json()["rule"]) == (422, "before_custody"), r.text
    assert _despatch_row(node, did)[0] == "in_custody"


def test_receipts_within_the_tolerance_are_recorded(node: Container, client: TestClient) -> None:
    """Clocks disagree a little: 3 minutes before the handover, 3 minutes ahead are fine."""
    carrier = partner(node)
    did, s9 = _handed_over(node)
    first = client.post(
        URL, content=resdit((s9, "74"), at=_stamp(minutes=-3)), headers=carrier.headers
    )
    assert first.status_code == 200, first.text
    done = client.post(
        URL, content=resdit((s9, "21"), at=_stamp(minutes=3)), headers=carrier.headers
    )
    assert done.status_code == 200, done.text
    assert _despatch_row(node, did)[0] == "delivered"
