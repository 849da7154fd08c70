"""PREDES writer: pre-advice of a closed despatch (after UPU M41), as XML."""

from __future__ import annotations

from postex.edi._xml import add, add_header, root, to_bytes
from postex.edi.models import PredesDespatch


def write_predes(despatch: PredesDespatch) -> bytes:
    """Render one despatch's PREDES as UTF-8 XML (namespace ``urn:postex:edi:predes:1``).

    Raises ValidationError if a text value holds a character XML 1.0 cannot carry.
    """
    document = root("Predes", "predes")
    add_header(document, despatch.header)
    d = despatch.despatch_id
    element = add(document, "Despatch")
    add(element, "DespatchId", str(d))
    add(element, "Origin", d.origin)
    add(element, "Destination", d.destination)
    add(element, "Category", d.category)
    add(element, "MailClass", d.mail_class)
    add(element, "Subclass", d.subclass)
    add(element, "YearDigit", d.year_digit)
    add(element, "Serial", d.serial)
    transport = add(element, "PlannedTransport")
    add(transport, "Carrier", despatch.transport.carrier)
    add(transport, "Flight", despatch.transport.flight)
    add(transport, "DepartureDate", despatch.transport.departure_date.isoformat())
    receptacles = add(element, "Receptacles", count=str(len(despatch.receptacles)))
    for r in despatch.receptacles:
        receptacle = add(receptacles, "Receptacle")
        add(receptacle, "ReceptacleId", str(r.receptacle_id))
        add(receptacle, "Serial", r.receptacle_id.receptacle_serial)
        add(receptacle, "Highest", r.receptacle_id.highest)
        add(receptacle, "Registered", r.receptacle_id.registered)
        add(receptacle, "GrossWeight", r.gross_weight_g, unit="g")
        add(receptacle, "ItemCount", len(r.item_ids))
        items = add(receptacle, "Items")
        for item_id in r.item_ids:
            add(items, "ItemId", item_id)
    add(element, "TotalWeight", sum(r.gross_weight_g for r in despatch.receptacles), unit="g")
    return to_bytes(document)
