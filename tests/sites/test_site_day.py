"""A full day at an export site through the HTTP API: pre-advice to carrier delivery."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pymupdf
import zxingcpp
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.dispatch_ids import ReceptacleId
from tests import factories
from tests.factories import SERIES, SITE, letters, partner, staff

API = f"/api/v1/sites/{SITE}"


def pdf_barcodes_and_text(data: bytes) -> tuple[list[str], str]:
    doc = pymupdf.open(stream=data, filetype="pdf")
    found: list[str] = []
    text = ""
    for page in doc:
        text += page.get_text()
        pix = page.get_pixmap(dpi=200, colorspace=pymupdf.csGRAY)
        image = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width)
        found += [b.text for b in zxingcpp.read_barcodes(image)]
    return found, text


def resdit(*events: tuple[str, str], at: str | None = None) -> bytes:
    """A RESDIT document; its receipts are stamped ``at`` (default: now, a receipt cannot
    precede the handover)."""
    stamp = at or datetime.now(UTC).isoformat(timespec="seconds")
    body = "".join(
        f"<Event><ReceptacleId>{s9}</ReceptacleId><Code>{code}</Code>"
        f"<OccurredAt>{stamp}</OccurredAt><Location>LHR</Location></Event>"
        for s9, code in events
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Resdit xmlns="urn:postex:edi:resdit:1">'
        "<Header><MessageId>BA-1</MessageId><PreparedAt>2026-11-24T21:30:00+00:00</PreparedAt>"
        f"<Sender>BA</Sender><Recipient>{SITE}</Recipient></Header>{body}</Resdit>"
    ).encode()


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_day_at_heathrow_from_pre_advice_to_delivery(node: Container, client: TestClient) -> None:
    """Items accepted, bagged, despatched and handed over carry every id, bill, message, event."""
    clerk, boss, carrier = staff(node, "clerk"), staff(node, "supervisor"), partner(node)
    items = letters(node, n=3, documents=1)
    goods = [i.id for i in items if i.has_goods]

    scans = [{"item_id": i.id, "weight_g": i.weight_g + 5} for i in items]
    accepted = ok(
        client.post(f"{API}/acceptances", json={"scans": scans}, headers=clerk.headers), 201
    )
    assert accepted["count"] == 4 and all(
        a["events"] == ["EMA", "EMB"] for a in accepted["accepted"]
    )

    bags = []
    for chunk, gross, last in ((items[:2], 2100, False), (items[2:], 1400, True)):
        bag = ok(client.post(f"{API}/receptacles", json=SERIES, headers=clerk.headers), 201)
        ids = [i.id for i in chunk]
        bag = ok(
            client.post(
                f"{API}/receptacles/{bag['id']}/items",
                json={"item_ids": ids},
                headers=clerk.headers,
            )
        )
        assert bag["item_count"] == len(ids)
        bag = ok(
            client.post(
                f"{API}/receptacles/{bag['id']}/close",
                json={"gross_weight_g": gross, "last": last},
                headers=clerk.headers,
            )
        )
        bags.append(bag)
    year = node.ctx.clock.now().year % 10
    assert [b["s9"] for b in bags] == [
        f"GBLALAUSJFKAAUN{year}0001001000021",
        f"GBLALAUSJFKAAUN{year}0001002100014",
    ]
    assert [str(ReceptacleId.parse(b["s9"])) for b in bags] == [b["s9"] for b in bags]
    label = client.get(bags[0]["links"]["cn35"], headers=clerk.headers)
    assert label.headers["content-type"] == "application/pdf"
    codes, _ = pdf_barcodes_and_text(label.content)
    assert bags[0]["s9"] in codes

    despatch = ok(
        client.post(
            f"{API}/despatches",
            json={"receptacle_ids": [b["s9"] for b in bags]},
            headers=boss.headers,
        ),
        201,
    )
    did = despatch["id"]
    assert did == f"GBLALAUSJFKAAUN{year}0001" and despatch["form"] == "CN31"
    assert despatch["item_count"] == 4 and despatch["gross_weight_g"] == 3500
    plan = {"carrier": "BA", "flight": "BA0117", "flight_date": "2026-11-24"}
    closed = ok(client.post(f"{API}/despatches/{did}/close", json=plan, headers=boss.headers))
    assert closed["state"] == "closed"
    _, bill_text = pdf_barcodes_and_text(
        client.get(closed["links"]["bill"], headers=boss.headers).content
    )
    assert "CN31" in bill_text and did in bill_text.replace("\n", "")

    predes = ET.fromstring(
        client.get(f"{API}/despatches/{did}/messages/predes", headers=boss.headers).content
    )
    ns = {"p": "urn:postex:edi:predes:1"}
    assert predes.findtext("p:Despatch/p:DespatchId", namespaces=ns) == did
    assert sorted(e.text or "" for e in predes.iter("{urn:postex:edi:predes:1}ItemId")) == sorted(
        i.id for i in items
    )
    itmatt = client.get(f"{API}/despatches/{did}/messages/itmatt", headers=boss.headers)
    doc = ET.fromstring(itmatt.content)
    ids = [e.text for e in doc.iter("{urn:postex:edi:itmatt:1}ItemId")]
    assert sorted(ids) == sorted(goods)  # the documents-only letter needs no ITMATT
    assert b"Bartholomew Quincey" in itmatt.content
    assert b"<Region>NY</Region>" in itmatt.content  # the US state customs needs
    company = factories.ITEM["sender"].get("company")  # the sender's, as the items were made
    assert not company or f"<Company>{escape(company)}</Company>".encode() in itmatt.content
    assert b"<OfficeOfOrigin>GBLALA</OfficeOfOrigin>" in itmatt.content
    stored = execute_raw(
        node.engine, "SELECT content, sealed FROM despatch_messages WHERE kind = 'itmatt'"
    )
    assert stored and all(s[1] and b"Quincey" not in str(s[0]).encode() for s in stored)
    logged = execute_raw(
        node.engine, "SELECT body FROM events WHERE substr(type, 1, 9) = 'despatch.'"
    )
    assert logged and all(b"Quincey" not in bytes(row[0]) for row in logged)

    over = ok(client.post(f"{API}/despatches/{did}/handover", json=plan, headers=boss.headers))
    assert over["state"] == "handed_over"
    cardit = ET.fromstring(
        client.get(f"{API}/despatches/{did}/messages/cardit", headers=boss.headers).content
    )
    assert [e.text for e in cardit.iter("{urn:postex:edi:cardit:1}ReceptacleId")] == [
        b["s9"] for b in bags
    ]

    got = ok(
        client.post(
            "/api/v1/partner/resdit",
            content=resdit((bags[0]["s9"], "74")),
            headers={**carrier.headers, "content-type": "application/xml"},
        )
    )
    assert got == {"recorded": 1, "repeated": 0}
    assert ok(client.get(f"{API}/despatches/{did}", headers=boss.headers))["state"] == "in_custody"
    both = resdit((bags[0]["s9"], "74"), (bags[0]["s9"], "21"), (bags[1]["s9"], "21"))
    got = ok(client.post("/api/v1/partner/resdit", content=both, headers=carrier.headers))
    assert got == {"recorded": 2, "repeated": 1}
    final = ok(client.get(f"{API}/despatches/{did}", headers=boss.headers))
    assert final["state"] == "delivered" and final["custody_at"] and final["delivered_at"]

    for item in items:
        track = ok(client.get(f"/api/v1/tracking/{item.id}"))
        assert [e["code"] for e in track["events"]][-3:] == ["EMA", "EMB", "EMC"]
    states = execute_raw(node.engine, "SELECT DISTINCT state FROM items")
    assert states == [("in_transit",)]
    carried = execute_raw(node.engine, "SELECT DISTINCT carrier_status FROM item_handling")
    assert carried == [("21",)]
    types = [
        r[0]
        for r in execute_raw(
            node.engine,
            "SELECT type FROM events WHERE site = ? ORDER BY seq"
            if "sqlite" in node.settings.db_url
            else "SELECT type FROM events WHERE site = %s ORDER BY seq",
            (SITE,),
        )
    ]
    for expected in (
        "user.created.v2",
        "item.accepted.v1",
        "item.arrived_at_exchange.v1",
        "receptacle.opened.v1",
        "receptacle.items_added.v2",
        "receptacle.closed.v1",
        "despatch.composed.v1",
        "despatch.closed.v1",
        "despatch.message_written.v1",
        "despatch.handed_over.v1",
        "despatch.carrier_reported.v1",
        "audit.recorded.v1",
    ):
        assert expected in types
    live = node.rebuilder.projection_digest()
    node.rebuilder.rebuild()
    assert node.rebuilder.projection_digest() == live
