"""PREDES, ITMATT and CARDIT writers: well-formed, complete, escaped, deterministic XML."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postex.edi import (
    CarditConsignment,
    CarditReceptacle,
    ContentLine,
    ImporterReferences,
    ItmattItem,
    MessageHeader,
    Party,
    PlannedTransport,
    PredesDespatch,
    PredesReceptacle,
    write_cardit,
    write_itmatt,
    write_predes,
)
from postex.kernel.dispatch_ids import DespatchId, ReceptacleId, weight_field
from postex.kernel.errors import ValidationError

DESPATCH = DespatchId("GBLALA", "USJFKA", "A", "UN", 6, 1)
HEADER = MessageHeader("PX-0001", datetime(2026, 3, 2, 22, 0, tzinfo=UTC), "GBLALA", "USJFKA")


def receptacle(serial: int, weight_g: int, highest: int = 0) -> ReceptacleId:
    return ReceptacleId(DESPATCH, serial, highest, 0, weight_field(weight_g))


def predes() -> PredesDespatch:
    return PredesDespatch(
        HEADER,
        DESPATCH,
        PlannedTransport("BA", "BA0117", date(2026, 3, 3)),
        (
            PredesReceptacle(receptacle(1, 12_340), 12_340, ("LA100000017GB", "CP200000023GB")),
            PredesReceptacle(receptacle(2, 8_700, highest=1), 8_700, ("EE300000030GB",)),
        ),
    )


def party(name: str, country: str) -> Party:
    return Party(name, ("1 High St", "Flat <2> & co"), "SW1A 1AA", "London", country, None, "+44")


def itmatt_item(item_id: str, description: str = "Wool knitted jumper") -> ItmattItem:
    return ItmattItem(
        item_id=item_id,
        sender=party("Ann O'Neil & Sons", "GB"),
        addressee=party('Bob "Bobby" Tables', "US"),
        category="sale_of_goods",
        contents=(ContentLine(description, 2, 640, 4_500, "GBP", "611011", "GB"),),
        gross_weight_g=720,
        total_value_minor=4_500,
        currency="GBP",
        postal_charges_minor=1_250,
        importer=ImporterReferences(tax_id="US-EIN-12-3456789", ioss="IM0123456789"),
    )


def cardit() -> CarditConsignment:
    return CarditConsignment(
        header=HEADER,
        consignment_id="GBLALA-BA0117-20260303",
        carrier="BA",
        flight="BA0117",
        departure_at=datetime(2026, 3, 3, 8, 25, tzinfo=timezone(timedelta(hours=0))),
        departure_airport="LHR",
        arrival_airport="JFK",
        origin_office="GBLALA",
        destination_office="USJFKA",
        handover_office="GBLALA",
        receptacles=(
            CarditReceptacle(receptacle(1, 12_340), 12_340),
            CarditReceptacle(receptacle(2, 8_700, highest=1), 8_700),
        ),
    )


def texts(document: bytes, namespace: str) -> dict[str, list[str]]:
    """Every element's text by local name, after parsing back with ElementTree."""
    root = ET.fromstring(document)
    assert root.tag.startswith("{" + namespace + "}")
    found: dict[str, list[str]] = {}
    for element in root.iter():
        found.setdefault(element.tag.split("}")[1], []).append((element.text or "").strip())
    return found


def test_predes_carries_despatch_receptacle_and_item_ids() -> None:
    """PREDES parsed back holds the S8 id, every S9 id, every S10 id and the transport."""
    found = texts(write_predes(predes()), "urn:postex:edi:predes:1")
    assert found["DespatchId"] == ["GBLALAUSJFKAAUN60001"]
    assert found["ReceptacleId"] == [
        "GBLALAUSJFKAAUN60001001000123",
        "GBLALAUSJFKAAUN60001002100087",
    ]
    assert found["ItemId"] == ["LA100000017GB", "CP200000023GB", "EE300000030GB"]
    assert found["ItemCount"] == ["2", "1"]
    assert found["GrossWeight"] == ["12340", "8700"]
    assert found["Flight"] == ["BA0117"]
    assert found["DepartureDate"] == ["2026-03-03"]
    assert found["PreparedAt"] == ["2026-03-02T22:00:00+00:00"]
    assert (found["Origin"], found["Destination"], found["Subclass"]) == (
        ["GBLALA"],
        ["USJFKA"],
        ["UN"],
    )


def test_itmatt_carries_every_item_and_escapes_markup() -> None:
    """ITMATT parsed back holds each S10 id, customs lines and the exact names given."""
    items = [itmatt_item("LA100000017GB"), itmatt_item("CP200000023GB", "Tea <loose> & leaf")]
    found = texts(write_itmatt(items, HEADER), "urn:postex:edi:itmatt:1")
    assert found["ItemId"] == ["LA100000017GB", "CP200000023GB"]
    assert found["Description"] == ["Wool knitted jumper", "Tea <loose> & leaf"]
    assert "Ann O'Neil & Sons" in found["Name"]
    assert 'Bob "Bobby" Tables' in found["Name"]
    assert found["HsCode"] == ["611011", "611011"]
    assert found["Ioss"] == ["IM0123456789", "IM0123456789"]
    assert found["PostalCharges"] == ["1250", "1250"]
    assert "Email" not in found


def test_cardit_carries_consignment_receptacles_and_flight() -> None:
    """CARDIT parsed back holds the consignment id, every S9 id, weights and the flight."""
    found = texts(write_cardit(cardit()), "urn:postex:edi:cardit:1")
    assert found["ConsignmentId"] == ["GBLALA-BA0117-20260303"]
    assert found["ReceptacleId"] == [
        "GBLALAUSJFKAAUN60001001000123",
        "GBLALAUSJFKAAUN60001002100087",
    ]
    assert found["DepartureAt"] == ["2026-03-03T08:25:00+00:00"]
    assert found["TotalWeight"] == ["21040"]
    assert found["HandoverOffice"] == ["GBLALA"]


def test_writers_are_deterministic() -> None:
    """The same input always gives byte-identical output, starting with a UTF-8 declaration."""
    for write in (
        lambda: write_predes(predes()),
        lambda: write_itmatt([itmatt_item("LA100000017GB")], HEADER),
        lambda: write_cardit(cardit()),
    ):
        first = write()
        assert first == write()
        assert first.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')


@given(st.text(max_size=60))
def test_any_description_is_written_escaped_or_refused(description: str) -> None:
    """Any text either round-trips through ITMATT XML or is refused with ValidationError."""
    try:
        document = write_itmatt([itmatt_item("LA100000017GB", description)], HEADER)
    except ValidationError as exc:
        refused: ValidationError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.errors[0].rule == "xml_char"
        return
    found = texts(document, "urn:postex:edi:itmatt:1")
    expected = description.replace("\r\n", "\n").replace("\r", "\n").strip()
    assert found["Description"] == [expected]


def test_receptacle_of_another_despatch_is_refused() -> None:
    """A PREDES cannot list a receptacle whose S9 id belongs to a different despatch."""
    other = ReceptacleId(DespatchId("GBLALA", "USJFKA", "A", "UN", 6, 2), 1, 1, 0, 10)
    with pytest.raises(ValidationError) as exc:
        PredesDespatch(
            HEADER,
            DESPATCH,
            PlannedTransport("BA", "BA0117", date(2026, 3, 3)),
            (PredesReceptacle(other, 1_000, ()),),
        )
    assert exc.value.errors[0].rule == "other_despatch"


def test_naive_times_and_negative_amounts_are_refused() -> None:
    """A header without a UTC offset, or a negative weight, is a ValidationError."""
    with pytest.raises(ValidationError):
        MessageHeader("PX-1", datetime(2026, 3, 2, 22, 0), "GBLALA", "USJFKA")
    with pytest.raises(ValidationError):
        CarditReceptacle(receptacle(1, 100), -1)


def test_itmatt_carries_companies_regions_and_the_customs_boxes() -> None:
    """What customs needs: both companies, the US state, the form, origin office and date,
    invoice/licence/certificate numbers, comments and the total net weight."""
    item = dataclasses.replace(
        itmatt_item("LA100000017GB"),
        sender=dataclasses.replace(party("Ann", "GB"), company="Thistle & Thread Ltd"),
        addressee=dataclasses.replace(
            party("Bob", "US"), company="Quincey Imports LLC", region="IL"
        ),
        customs_form="CN22",
        invoice_number="INV-77",
        licence_numbers=("LIC-1",),
        certificate_numbers=("CERT-9",),
        comments="Keep dry",
        office_of_origin="GBLALA",
        posted_on="2026-03-02",
    )
    found = texts(write_itmatt([item], HEADER), "urn:postex:edi:itmatt:1")
    assert found["Company"] == ["Thistle & Thread Ltd", "Quincey Imports LLC"]
    assert found["Region"] == ["IL"]
    assert found["CustomsForm"] == ["CN22"]
    assert found["OfficeOfOrigin"] == ["GBLALA"]
    assert found["DateOfPosting"] == ["2026-03-02"]
    assert found["InvoiceNumber"] == ["INV-77"]
    assert found["LicenceNumber"] == ["LIC-1"]
    assert found["CertificateNumber"] == ["CERT-9"]
    assert found["Comments"] == ["Keep dry"]
    assert found["TotalNetWeight"] == ["640"]
