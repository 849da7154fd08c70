"""Site documents: maps site-operation records to the PDF forms and EDI messages.

Implements :class:`postex.sites.app.ops.SiteDocuments` with the renderers of
``postex.pdf`` (CN35, CN38/CN31) and ``postex.edi`` (PREDES, ITMATT,
CARDIT, RESDIT).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from postex import edi, pdf
from postex.items.app.preadvice import ItemRecord
from postex.kernel.dispatch_ids import DespatchId, ReceptacleId, weight_field
from postex.kernel.network import impc_codes
from postex.sites.app.ops import (
    CarrierReport,
    DespatchRecord,
    ReceptacleRecord,
    Transport,
)

# Our offices of exchange and the airport each loads at; others use the IMPC location.
AIRPORTS = {"GBLALA": "LHR", "GBLGWA": "LGW", "GBBHXA": "BHX", "GBCVTA": "CVT"}


def _office(code: str) -> pdf.Office:
    found = impc_codes().get(code)
    return pdf.Office(code, found.name if found else code)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _header(kind: str, message_id: str, prepared_at: str, sender: str, to: str) -> Any:
    return edi.MessageHeader(message_id, _when(prepared_at), sender, to)


def _party(data: dict[str, Any]) -> edi.Party:
    return edi.Party(
        name=data["name"],
        address_lines=tuple(data.get("address_lines", ())),
        postcode=data.get("postcode") or "",
        city=data.get("city", ""),
        country=data["country"],
        email=data.get("email"),
        phone=data.get("phone"),
        company=data.get("company"),
        region=data.get("region"),
    )


def itmatt_item(item: ItemRecord, personal: dict[str, Any]) -> edi.ItmattItem:
    contents = personal.get("contents", {})
    lines = tuple(
        edi.ContentLine(
            line["description"],
            line["quantity"],
            line["net_weight_g"],
            line["value_minor"],
            line["currency"],
            line["hs_code"],
            line["origin_country"],
        )
        for line in contents.get("lines", [])
    )
    importer = personal.get("importer") or {}
    currency = lines[0].currency if lines else "GBP"
    return edi.ItmattItem(
        item_id=item.id,
        sender=_party(personal["sender"]),
        addressee=_party(personal["addressee"]),
        category=contents.get("category", "other"),
        contents=lines,
        gross_weight_g=item.weight_g,
        total_value_minor=sum(x.value_minor for x in lines),
        currency=currency,
        postal_charges_minor=0,
        importer=edi.ImporterReferences(
            importer.get("tax_id"), importer.get("ioss"), importer.get("eori")
        ),
        category_explanation=contents.get("explanation"),
        customs_form=item.customs_form,
        invoice_number=contents.get("invoice_number"),
        licence_numbers=tuple(x for x in [contents.get("licence")] if x),
        certificate_numbers=tuple(x for x in [contents.get("certificate")] if x),
        comments=contents.get("comments"),
        office_of_origin=item.origin_site,
        posted_on=item.created_at[:10] or None,
    )


class PdfEdiSiteDocuments:
    """The forms as PDF bytes, the messages as XML bytes."""

    def cn35(self, r: ReceptacleRecord, carrier: str) -> bytes:
        assert r.s9 is not None and r.gross_weight_g is not None
        return pdf.render_cn35(
            pdf.Cn35Data(
                receptacle_id=r.s9,
                origin=_office(r.site),
                destination=_office(r.destination),
                gross_weight_hg=weight_field(r.gross_weight_g),
                carrier=carrier,
            )
        )

    def despatch_bill(
        self, d: DespatchRecord, receptacles: Sequence[ReceptacleRecord], on: date
    ) -> bytes:
        lines = tuple(
            pdf.ReceptacleLine(r.s9 or "", weight_field(r.gross_weight_g or 0), r.item_count)
            for r in receptacles
        )
        form: Literal["CN38", "CN31"] = "CN31" if d.form == "CN31" else "CN38"
        return pdf.render_despatch_bill(
            pdf.DespatchBillData(
                form=form,
                despatch_id=d.id,
                origin=_office(d.site),
                destination=_office(d.destination),
                despatched_on=on,
                receptacles=lines,
                carrier=d.carrier or "",
                flight=d.flight or "",
            )
        )

    def predes(
        self,
        d: DespatchRecord,
        receptacles: Sequence[tuple[ReceptacleRecord, Sequence[str]]],
        transport: Transport,
        message_id: str,
        prepared_at: str,
    ) -> bytes:
        return edi.write_predes(
            edi.PredesDespatch(
                header=_header("predes", message_id, prepared_at, d.site, d.destination),
                despatch_id=DespatchId.parse(d.id),
                transport=edi.PlannedTransport(
                    transport.carrier, transport.flight, transport.flight_date
                ),
                receptacles=tuple(
                    edi.PredesReceptacle(
                        ReceptacleId.parse(r.s9), r.gross_weight_g or 0, tuple(items)
                    )
                    for r, items in receptacles
                ),
            )
        )

    def itmatt(
        self,
        items: Sequence[tuple[ItemRecord, dict[str, Any]]],
        sender: str,
        recipient: str,
        message_id: str,
        prepared_at: str,
    ) -> bytes:
        return edi.write_itmatt(
            [itmatt_item(item, personal) for item, personal in items],
            _header("itmatt", message_id, prepared_at, sender, recipient),
        )

    def cardit(
        self,
        d: DespatchRecord,
        receptacles: Sequence[ReceptacleRecord],
        transport: Transport,
        message_id: str,
        prepared_at: str,
    ) -> bytes:
        # The scheduled departure when it was given; else the flight's day (00:00 UTC).
        departure = transport.departs_at or datetime.combine(
            transport.flight_date, time(0, 0), tzinfo=UTC
        )
        return edi.write_cardit(
            edi.CarditConsignment(
                header=_header("cardit", message_id, prepared_at, d.site, transport.carrier),
                consignment_id=f"{d.id}{transport.flight}",
                carrier=transport.carrier,
                flight=transport.flight,
                departure_at=departure,
                departure_airport=AIRPORTS.get(d.site, d.site[2:5]),
                arrival_airport=d.destination[2:5],
                origin_office=d.site,
                destination_office=d.destination,
                handover_office=d.site,
                receptacles=tuple(
                    edi.CarditReceptacle(ReceptacleId.parse(r.s9), r.gross_weight_g or 0)
                    for r in receptacles
                ),
            )
        )

    def read_resdit(self, data: bytes) -> list[CarrierReport]:
        return [
            CarrierReport(
                str(e.receptacle_id),
                e.event_code,
                e.occurred_at.isoformat(timespec="seconds"),
                e.location,
            )
            for e in edi.read_resdit(data)
        ]
