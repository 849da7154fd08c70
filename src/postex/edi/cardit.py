"""CARDIT writer: receptacles handed to a carrier for one flight (after UPU M48), as XML."""

from __future__ import annotations

from postex.edi._xml import add, add_header, root, timestamp, to_bytes
from postex.edi.models import CarditConsignment


def write_cardit(consignment: CarditConsignment) -> bytes:
    """Render a consignment's CARDIT as UTF-8 XML (namespace ``urn:postex:edi:cardit:1``).

    Raises ValidationError if a text value holds a character XML 1.0 cannot carry.
    """
    document = root("Cardit", "cardit")
    add_header(document, consignment.header)
    element = add(document, "Consignment")
    add(element, "ConsignmentId", consignment.consignment_id)
    transport = add(element, "Transport")
    add(transport, "Carrier", consignment.carrier)
    add(transport, "Flight", consignment.flight)
    add(transport, "DepartureAt", timestamp(consignment.departure_at))
    add(transport, "DepartureAirport", consignment.departure_airport)
    add(transport, "ArrivalAirport", consignment.arrival_airport)
    add(element, "OriginOffice", consignment.origin_office)
    add(element, "DestinationOffice", consignment.destination_office)
    add(element, "HandoverOffice", consignment.handover_office)
    receptacles = add(element, "Receptacles", count=str(len(consignment.receptacles)))
    for r in consignment.receptacles:
        receptacle = add(receptacles, "Receptacle")
        add(receptacle, "ReceptacleId", str(r.receptacle_id))
        add(receptacle, "DespatchId", str(r.receptacle_id.despatch))
        add(receptacle, "GrossWeight", r.gross_weight_g, unit="g")
    add(element, "TotalWeight", consignment.total_weight_g, unit="g")
    return to_bytes(document)
