"""One text policy at the edge (postex.kernel.text): whatever pre-advice accepts, every EDI
writer and every PDF can write.

Regression (issue 15): an addressee name holding U+FFFF was accepted at pre-advice; the item
was accepted, bagged and composed into a despatch that could then never be closed (422
``xml_char`` from the ITMATT writer), taking other customers' items in it down too.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from postex import edi
from postex.bootstrap import Container
from postex.edi import _xml
from postex.items.app.preadvice import get_item, pre_advise
from postex.items.domain.items import parse_pre_advice
from postex.kernel import text as text_policy
from postex.kernel.errors import ValidationError
from postex.sites.app import despatches as dsp
from postex.sites.app import receptacles as rcp
from postex.sites.app.acceptance import Scan, accept
from postex.sites.app.ops import SiteOpsRepository
from postex.sites.documents import itmatt_item
from tests.factories import SERIES, SITE, Caller, Staff, item_payload, new_customer, staff
from tests.strategies import AWKWARD_CHARACTERS, hostile_texts, writable_texts

PLAN = ("BA", "BA0117", "2026-11-24")


def _with_addressee_name(name: str) -> dict[str, Any]:
    body = item_payload()
    body["addressee"]["name"] = name
    return body


@pytest.mark.parametrize(
    ("name", "rule", "point"),
    [
        ("Bart \uffff Quincey", "unwritable_character", "U+FFFF"),
        ("Bart \ufffe", "unwritable_character", "U+FFFE"),
        ("Bart \U0001ffff", "unwritable_character", "U+1FFFF"),
        ("Bart \ufdd0", "unwritable_character", "U+FDD0"),
        ("Bart \ud800", "unwritable_character", "U+D800"),
        ("Bart \x85 Q", "control_characters", "U+0085"),
        ("Bart\nQuincey", "control_characters", "U+000A"),
    ],
)
def test_pre_advice_refuses_what_the_writers_cannot_carry(
    client: TestClient, alice: Caller, name: str, rule: str, point: str
) -> None:
    """422 problem+json naming the field, the rule, the value and the code point."""
    raw = json.dumps(_with_addressee_name(name))  # ASCII escapes: "\ud800" travels as JSON
    headers = {**alice.headers, "Content-Type": "application/json"}
    r = client.post("/api/v1/items", content=raw, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["field"], body["rule"]) == ("addressee.name", rule)
    assert body["errors"][0]["character"] == point
    assert body["value"].startswith("Bart")
    items = client.get("/api/v1/items", headers=alice.headers).json()["items"]
    assert items == []


def test_pre_advice_stores_text_nfc_normalised(node: Container) -> None:
    """A decomposed é and an Ångström sign are stored as their composed characters."""
    customer = new_customer(node)
    body = _with_addressee_name("Jose\u0301 \u212bngstro\u0308m")
    [record] = pre_advise(node.ctx, customer.record.id, [parse_pre_advice(body)])
    personal = get_item(node.ctx, customer.record.id, record.id).personal
    assert personal is not None
    assert personal["addressee"]["name"] == "Jos\u00e9 \u00c5ngstr\u00f6m"


@pytest.mark.parametrize("ch", AWKWARD_CHARACTERS)
def test_the_edge_and_the_xml_writers_agree_on_every_character(ch: str) -> None:
    """Text the policy accepts is written by the XML layer, and reads back the same."""
    sample = f"a{ch}b"
    try:
        accepted = text_policy.check(sample, "name", multiline=True)
    except ValidationError:
        return
    document = _xml.root("Test", "itmatt")
    _xml.add(document, "Name", accepted)
    parsed = _xml.parse(_xml.to_bytes(document), "doc")
    found = parsed.find("{urn:postex:edi:itmatt:1}Name")
    assert found is not None and found.text == accepted


def test_the_policy_refuses_exactly_the_characters_xml_cannot_carry() -> None:
    """Every code point XML 1.0 cannot hold (besides the line-break rule) is refused."""
    for point in [*range(0x00, 0x20), *range(0x7F, 0xA0), 0xD800, 0xDFFF, 0xFFFE, 0xFFFF]:
        ch = chr(point)
        if ch in "\t\n\r":
            continue
        assert text_policy.forbidden(ch, xml=True) == ch, hex(point)
    for plane in range(17):
        for last in (0xFFFE, 0xFFFF):
            assert text_policy.forbidden(chr(plane * 0x10000 + last)) is not None
    for fine in ["\u2028", "\ue000", "\U000f0000", "\u0378", "\U0001f600", "\ufffd"]:
        assert text_policy.forbidden(fine) is None, ascii(fine)


# --- the property: pre-advice, then every writer --------------------------------------
_PEOPLE: dict[int, tuple[Staff, Staff]] = {}


def _people(node: Container) -> tuple[Staff, Staff]:
    if id(node) not in _PEOPLE:
        _PEOPLE[id(node)] = (staff(node, "clerk"), staff(node, "supervisor"))
    return _PEOPLE[id(node)]


def _despatch_with(node: Container, item_id: str) -> str:
    """Accept, bag, close (CN35), compose, close (CN38, PREDES, ITMATT) and hand over
    (CARDIT) a despatch of the item."""
    clerk, boss = _people(node)
    ops = node.site_ops
    with ops.ctx.store.read() as uow:
        weight = uow.repo(SiteOpsRepository).items([item_id])[item_id].weight_g
    accept(ops, clerk.principal, SITE, [Scan(item_id, weight)])
    bag = rcp.open_receptacle(ops, clerk.principal, SITE, **SERIES)
    rcp.add_items(ops, clerk.principal, SITE, bag.id, [item_id])
    closed = rcp.close_receptacle(ops, clerk.principal, SITE, bag.id, weight + 500, last=True)
    d = dsp.compose(ops, boss.principal, SITE, [closed.s9])
    dsp.close_despatch(ops, boss.principal, SITE, d.id, *PLAN)
    dsp.hand_over(ops, boss.principal, SITE, d.id, *PLAN)
    assert rcp.cn35_label(ops, clerk.principal, SITE, bag.id).startswith(b"%PDF")
    assert dsp.despatch_bill(ops, boss.principal, SITE, d.id).startswith(b"%PDF")  # CN38/CN31
    return d.id


@pytest.mark.sqlite_only
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.one_of(writable_texts, writable_texts, hostile_texts), other=st.booleans())
def test_whatever_pre_advice_accepts_every_edi_writer_and_pdf_can_write(
    node: Container, text: str, other: bool
) -> None:
    """Generated text in every free-text field of a pre-advice; if accepted: label (CN22),
    CN23, ITMATT, and a closed despatch (CN35, CN38, PREDES, ITMATT, CARDIT): none may fail.
    """
    body = item_payload()
    body["addressee"].update(name=f"A {text}", company=f"{text} Ltd", city=f"Y{text}")
    body["addressee"]["address_lines"] = [f"1 {text}", f"{text}{text}"]
    body["sender"]["name"] = f"{text} S"
    body["contents"]["lines"][0]["description"] = f"Cotton shirt {text}"
    if other:
        body["contents"].update(category="other", explanation=f"Gift {text}")
    try:
        advice = parse_pre_advice(body)
    except ValidationError as refused:
        event(f"refused: {sorted({e.rule for e in refused.errors})}")
        return
    event("accepted")
    customer = new_customer(node, "Text Policy Ltd")
    [record] = pre_advise(node.ctx, customer.record.id, [advice])
    view = get_item(node.ctx, customer.record.id, record.id)
    today = date(2026, 11, 24)
    assert node.documents.label(view, today).startswith(b"%PDF")
    assert node.documents.cn23(view, today).startswith(b"%PDF")
    assert view.personal is not None
    written = edi.write_itmatt(
        [itmatt_item(view.record, view.personal)],
        edi.MessageHeader("PX-1", node.ctx.clock.now(), SITE, "USJFKA"),
    )
    names = [e.text for e in ET.fromstring(written).iter() if e.tag.endswith("Name") and e.text]
    assert view.personal["addressee"]["name"] in names
    did = _despatch_with(node, record.id)
    ops = node.site_ops
    kinds = {m.kind for m in dsp.list_messages(ops, _people(node)[1].principal, SITE, did)}
    assert {"itmatt", "predes", "cardit"} <= kinds


def test_a_reference_search_matches_whichever_way_the_accent_was_typed(
    client: TestClient, alice: Caller
) -> None:
    """Stored references are NFC; the search normalises the same way."""
    body = item_payload(reference="Re\u0301f-1")
    assert client.post("/api/v1/items", json=body, headers=alice.headers).status_code == 201
    for typed in ("R\u00e9f-1", "Re\u0301f-1"):
        found = client.get("/api/v1/items", params={"reference": typed}, headers=alice.headers)
        assert [i["reference"] for i in found.json()["items"]] == ["R\u00e9f-1"], typed
