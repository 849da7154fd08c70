"""Partner events that cannot have happened when they say, with one rule name per condition
whether they arrive as JSON or as an EMSEVT CSV file.

Regressions (issue 15): events were accepted up to ~10 minutes before the item's
pre-advice and up to 15 minutes ahead of our clock; nothing bound them to the handover; an
unknown event code was ``event_code`` as CSV but ``unknown_event_code`` as JSON.
Tolerances: kernel.plausibility (5 minutes either way).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.sites.app import despatches as dsp
from tests.factories import SITE, ManualClock, new_customer, new_items, staff
from tests.sites.test_site_messages import PLAN, _despatch
from tests.tracking.conftest import auth, partner_key

URL = "/api/v1/partner/events"
HEADER = "item_id,event_code,occurred_at,office,reason_code,next_office\n"


def _send(client: TestClient, key: str, kind: str, rows: list[dict[str, str]]) -> Any:
    if kind == "json":
        return client.post(URL, json={"events": rows}, headers=auth(key))
    lines = "".join(
        f"{r['item_id']},{r['event_code']},{r['occurred_at']},{r['office']},,\n" for r in rows
    )
    return client.post(
        URL, content=(HEADER + lines).encode(), headers={**auth(key), "Content-Type": "text/csv"}
    )


def _event(item_id: str, at: datetime, code: str = "EMD") -> dict[str, str]:
    return {"item_id": item_id, "event_code": code, "occurred_at": at.isoformat(),
            "office": "USJFKA"}  # fmt: skip


def _rules(r: Any) -> list[str]:
    assert r.status_code == 422, r.text
    return [e["rule"] for e in r.json()["errors"]]


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_one_rule_name_per_condition_in_json_and_csv(
    node: Container, client: TestClient, clock: ManualClock, kind: str
) -> None:
    """Unknown code, 10 minutes before pre-advice, 10 minutes and 8 hours ahead."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    created = clock.now()
    key = partner_key(node)
    clock.advance(hours=2)
    now = clock.now()
    cases = [
        (_event(item.id, now, code="ZZZ"), "unknown_event_code"),
        (_event(item.id, created - timedelta(minutes=10)), "before_pre_advice"),
        (_event(item.id, now + timedelta(minutes=10)), "in_future"),
        (_event(item.id, now + timedelta(hours=8), code="EMI"), "in_future"),
    ]
    for event, rule in cases:
        assert _rules(_send(client, key, kind, [event])) == [rule], (kind, event)


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_small_clock_differences_are_tolerated(
    node: Container, client: TestClient, clock: ManualClock, kind: str
) -> None:
    """4 minutes before the pre-advice and 4 minutes ahead of our clock are accepted."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    created = clock.now()
    key = partner_key(node)
    clock.advance(minutes=30)
    rows = [
        _event(item.id, created - timedelta(minutes=4), code="EMD"),
        _event(item.id, clock.now() + timedelta(minutes=4), code="EMG"),
    ]
    r = _send(client, key, kind, rows)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2


@pytest.mark.sqlite_only
@pytest.mark.parametrize("kind", ["json", "csv"])
def test_an_event_before_the_handover_is_refused(
    node: Container, client: TestClient, clock: ManualClock, kind: str
) -> None:
    """The partner cannot have scanned the item an hour before we handed it over."""
    [item] = new_items(node, new_customer(node).record.id)
    clock.advance(hours=3)
    did = _despatch(node, [[item.id]])
    dsp.hand_over(node.site_ops, staff(node, "supervisor", name="boss.h").principal, SITE, did,
                  *PLAN)  # fmt: skip
    key = partner_key(node)
    handed = clock.now()
    clock.advance(hours=1)
    early = _send(client, key, kind, [_event(item.id, handed - timedelta(hours=1))])
    assert _rules(early) == ["before_handover"]
    fine = _send(client, key, kind, [_event(item.id, handed + timedelta(minutes=30))])
    assert fine.status_code == 200, fine.text
