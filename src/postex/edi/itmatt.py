"""ITMATT writer: electronic CN22/CN23 customs data per item (after UPU M33), as XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from postex.edi._xml import add, add_header, add_optional, root, to_bytes
from postex.edi.models import ItmattItem, MessageHeader, Party


def _party(parent: ET.Element, tag: str, party: Party) -> None:
    element = add(parent, tag)
    add(element, "Name", party.name)
    add_optional(element, "Company", party.company)
    address = add(element, "Address")
    for line in party.address_lines:
        add(address, "Line", line)
    add(element, "Postcode", party.postcode)
    add(element, "City", party.city)
    add_optional(element, "Region", party.region)
    add(element, "Country", party.country)
    add_optional(element, "Email", party.email)
    add_optional(element, "Phone", party.phone)


def _money(parent: ET.Element, tag: str, minor: int, currency: str) -> None:
    add(parent, tag, minor, currency=currency, unit="minor")


def _item(parent: ET.Element, item: ItmattItem) -> None:
    element = add(parent, "Item")
    add(element, "ItemId", item.item_id)
    add_optional(element, "CustomsForm", item.customs_form)
    add_optional(element, "OfficeOfOrigin", item.office_of_origin)
    add_optional(element, "DateOfPosting", item.posted_on)
    add(element, "Category", item.category)
    add_optional(element, "CategoryExplanation", item.category_explanation)
    _party(element, "Sender", item.sender)
    _party(element, "Addressee", item.addressee)
    refs = item.importer
    if refs.tax_id or refs.ioss or refs.eori:
        importer = add(element, "Importer")
        add_optional(importer, "TaxId", refs.tax_id)
        add_optional(importer, "Ioss", refs.ioss)
        add_optional(importer, "Eori", refs.eori)
    contents = add(element, "Contents", count=str(len(item.contents)))
    for number, line in enumerate(item.contents, start=1):
        row = add(contents, "Line", number=str(number))
        add(row, "Description", line.description)
        add(row, "Quantity", line.quantity)
        add(row, "NetWeight", line.net_weight_g, unit="g")
        _money(row, "Value", line.value_minor, line.currency)
        add(row, "HsCode", line.hs_code)
        add(row, "OriginCountry", line.origin_country)
    add(element, "TotalNetWeight", sum(line.net_weight_g for line in item.contents), unit="g")
    add(element, "GrossWeight", item.gross_weight_g, unit="g")
    _money(element, "TotalValue", item.total_value_minor, item.currency)
    _money(element, "PostalCharges", item.postal_charges_minor, item.currency)
    add_optional(element, "InvoiceNumber", item.invoice_number)
    for licence in item.licence_numbers:
        add(element, "LicenceNumber", licence)
    for certificate in item.certificate_numbers:
        add(element, "CertificateNumber", certificate)
    add_optional(element, "Comments", item.comments)


def write_itmatt(items: Sequence[ItmattItem], header: MessageHeader) -> bytes:
    """Render the customs data of ``items`` as one ITMATT (``urn:postex:edi:itmatt:1``).

    Items appear in the order given. Raises ValidationError if a text value holds a
    character XML 1.0 cannot carry.
    """
    document = root("Itmatt", "itmatt")
    add_header(document, header)
    for item in items:
        _item(document, item)
    return to_bytes(document)
