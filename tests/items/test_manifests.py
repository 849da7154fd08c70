"""POST /api/v1/manifests: JSON arrays and CSV files, all-or-nothing or partial."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.items.app.manifests import COLUMNS
from tests.factories import Caller, item_payload

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def send_json(client: TestClient, who: Caller, items: Any, query: str = "") -> Any:
    return client.post(f"/api/v1/manifests{query}", json=items, headers=who.headers)


def send_csv(client: TestClient, who: Caller, data: bytes, query: str = "") -> Any:
    headers = {**who.headers, "Content-Type": "text/csv"}
    return client.post(f"/api/v1/manifests{query}", content=data, headers=headers)


def stored(client: TestClient, who: Caller) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/items?limit=200", headers=who.headers).json()[
        "items"
    ]
    return items


def csv_rows(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buf.getvalue().encode()


def example_rows() -> list[dict[str, str]]:
    text = (EXAMPLES / "manifest-example.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_shipped_json_example_is_accepted(client: TestClient, alice: Caller) -> None:
    """docs/examples/manifest-example.json is stored whole, each item with an S10 id."""
    items = json.loads((EXAMPLES / "manifest-example.json").read_text(encoding="utf-8"))
    r = send_json(client, alice, items)
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["accepted"] == len(items) == 3
    assert [i["customs_form"] for i in body["items"]] == ["CN22", "CN23", None]
    assert len(stored(client, alice)) == 3


def test_shipped_csv_example_groups_rows_by_reference(client: TestClient, alice: Caller) -> None:
    """The example CSV's two rows of ORDER-1042 become one item with two goods lines."""
    data = (EXAMPLES / "manifest-example.csv").read_bytes()
    r = send_csv(client, alice, data)
    assert r.status_code == 201, r.json()
    body = r.json()
    assert [(i["line"], i["reference"]) for i in body["items"]] == [
        (2, "ORDER-1042"), (4, "ORDER-1043"), (5, "ORDER-1044")
    ]  # fmt: skip
    first = body["items"][0]["id"]
    detail = client.get(f"/api/v1/items/{first}", headers=alice.headers).json()
    assert [g["description"] for g in detail["contents"]["lines"]] == [
        "Cotton T-shirt", "Wool scarf"
    ]  # fmt: skip


def test_one_bad_item_rejects_everything_listing_each_bad_row(
    client: TestClient, alice: Caller
) -> None:
    """All-or-nothing: 422 lists every bad item's line, field, rule and value; nothing stored."""
    items = [item_payload(reference=f"R{n}") for n in range(5)]
    items[1]["service"] = "teleport"
    items[3]["weight_g"] = 0
    r = send_json(client, alice, items)
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert {(e["line"], e["field"], e["rule"]) for e in errors} == {
        (2, "service", "unknown_service"), (4, "weight_g", "minimum")
    }  # fmt: skip
    assert {e["value"] for e in errors} == {"teleport", 0}
    assert stored(client, alice) == []


def test_partial_stores_good_items_and_reports_bad_ones(client: TestClient, alice: Caller) -> None:
    """With partial=true the good items are stored and the bad ones listed by line."""
    items = [item_payload(reference=f"R{n}") for n in range(4)]
    items[2]["contents"]["lines"][0]["description"] = "gift"
    r = send_json(client, alice, items, "?partial=true")
    assert r.status_code == 201
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (3, 1)
    assert [e["line"] for e in body["errors"]] == [3]
    assert sorted(i["reference"] for i in stored(client, alice)) == ["R0", "R1", "R3"]


def test_csv_errors_name_column_and_row(client: TestClient, alice: Caller) -> None:
    """A bad goods line in CSV is reported under its column name on its own line."""
    rows = example_rows()
    rows[1]["hs_code"] = "61"
    rows[2]["addressee_country"] = "XX"
    r = send_csv(client, alice, csv_rows(rows))
    assert r.status_code == 422
    found = {(e["line"], e["field"]) for e in r.json()["errors"]}
    assert (3, "hs_code") in found
    assert (4, "addressee_country") in found
    assert stored(client, alice) == []


def test_csv_formulas_in_text_fields_are_refused(client: TestClient, alice: Caller) -> None:
    """A text cell starting with = + - or @ is a csv_formula error; a +44 phone is fine."""
    rows = example_rows()
    rows[0]["addressee_name"] = '=HYPERLINK("http://evil.example","x")'
    rows[2]["description"] = "@SUM(A1:A2)"
    r = send_csv(client, alice, csv_rows(rows))
    assert r.status_code == 422
    formula = [(e["line"], e["field"]) for e in r.json()["errors"] if e["rule"] == "csv_formula"]
    assert formula == [(2, "addressee_name"), (4, "description")]


@pytest.mark.parametrize(
    "cell",
    [" =1+1", "\uff1d1+1", "\u200b=1+1", "\ufeff@SUM(A1)", "\u00a0\u2060+1", "\uff0b1", "\uff20x"],
    ids=["space", "fullwidth", "zero-width-space", "bom", "nbsp-word-joiner", "fw-plus", "fw-at"],
)
def test_csv_formulas_are_found_after_normalising(
    client: TestClient, alice: Caller, cell: str
) -> None:
    """Regression (issue 15): a leading space, a full-width ＝ or a zero-width prefix hid a
    formula from the check; it now looks at the NFKC text past invisible characters."""
    rows = example_rows()
    rows[0]["addressee_name"] = cell
    r = send_csv(client, alice, csv_rows(rows))
    assert r.status_code == 422, r.text
    formula = [(e["line"], e["field"]) for e in r.json()["errors"] if e["rule"] == "csv_formula"]
    assert formula == [(2, "addressee_name")]
    assert stored(client, alice) == []


def test_non_utf8_csv_is_refused(client: TestClient, alice: Caller) -> None:
    """A Latin-1 CSV is a 422 naming the encoding rule and the line of the bad byte."""
    data = (EXAMPLES / "manifest-example.csv").read_text(encoding="utf-8").encode("latin-1")
    r = send_csv(client, alice, data)
    assert r.status_code == 422
    problem = r.json()
    assert (problem["field"], problem["rule"]) == ("file", "encoding")
    assert problem["errors"][0]["line"] == 4
    assert stored(client, alice) == []


def test_unknown_csv_column_is_refused(client: TestClient, alice: Caller) -> None:
    """A header with a column the format does not have is a 422 on line 1."""
    data = b"service,weight_g,sender_name,addressee_name,contents_category,colour\n"
    r = send_csv(client, alice, data + b"tracked,100,A,B,documents,red\n")
    assert r.status_code == 422
    assert r.json()["errors"][0] == {
        "field": "colour", "rule": "unknown_field", "value": "colour",
        "message": "unknown column 'colour'", "line": 1,
    }  # fmt: skip


def test_wrong_types_and_overlong_strings_in_csv(client: TestClient, alice: Caller) -> None:
    """A non-numeric weight and a 36-character reference are each reported."""
    rows = example_rows()[3:]
    rows[0]["weight_g"] = "sixty"
    rows[0]["reference"] = "R" * 36
    r = send_csv(client, alice, csv_rows(rows))
    assert r.status_code == 422
    rules = {(e["field"], e["rule"]) for e in r.json()["errors"]}
    assert rules == {("weight_g", "type"), ("reference", "max_length")}


def test_too_many_items_is_refused_before_checking(client: TestClient, alice: Caller) -> None:
    """10,001 items are refused with max_items; nothing is stored."""
    r = send_json(client, alice, [{}] * 10_001)
    assert r.status_code == 422
    assert r.json()["rule"] == "max_items"


def test_manifest_idempotency_key_replays(client: TestClient, alice: Caller) -> None:
    """Resending a manifest with its Idempotency-Key returns the first answer, no new items."""
    items = [item_payload(reference=f"R{n}") for n in range(3)]
    headers = {**alice.headers, "Idempotency-Key": "manifest-2026-11-23"}
    first = client.post("/api/v1/manifests", json=items, headers=headers)
    again = client.post("/api/v1/manifests", json=items, headers=headers)
    assert again.json() == first.json()
    assert len(stored(client, alice)) == 3
    other = client.post("/api/v1/manifests", json=items[:1], headers=headers)
    assert other.status_code == 409
