"""The app's Documents port on the PDF renderers: an item view to a label or a CN23."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Any

from postex.items.app.documents import needs_cn23
from postex.items.app.preadvice import ItemView
from postex.kernel.network import impc_codes, load_network
from postex.kernel.reference import services
from postex.pdf.batch import render_batch
from postex.pdf.collection import CollectionData, CollectionRow, render_collection
from postex.pdf.customs import render_cn23
from postex.pdf.labels import render_label
from postex.pdf.models import (
    Address,
    Category,
    Cn22Data,
    Cn23Data,
    ContentsLine,
    LabelData,
    TaxReference,
    TaxScheme,
)

SCHEMES = (("tax_id", TaxScheme.TAX_ID), ("eori", TaxScheme.EORI), ("ioss", TaxScheme.IOSS))


def _address(data: dict[str, Any]) -> Address:
    return Address(
        name=data.get("name", ""),
        lines=tuple(data.get("address_lines", ())),
        city=data.get("city") or "",
        region=data.get("region") or "",
        postcode=data.get("postcode") or "",
        country=data.get("country", ""),
        company=data.get("company") or "",
        phone=data.get("phone") or "",
        email=data.get("email") or "",
    )


def _lines(contents: dict[str, Any]) -> tuple[ContentsLine, ...]:
    return tuple(
        ContentsLine(
            description=line["description"],
            quantity=line["quantity"],
            net_weight_g=line["net_weight_g"],
            value_minor=line["value_minor"],
            hs_code=line.get("hs_code", ""),
            origin_country=line.get("origin_country", ""),
        )
        for line in contents.get("lines", [])
    )


def _currency(contents: dict[str, Any]) -> str:
    lines = contents.get("lines") or []
    return str(lines[0]["currency"]) if lines else "GBP"


def _category(contents: dict[str, Any]) -> Category:
    try:
        return Category(contents.get("category", "other"))
    except ValueError:
        return Category.OTHER


def _importer(personal: dict[str, Any]) -> tuple[TaxReference, ...]:
    importer = personal.get("importer") or {}
    return tuple(
        TaxReference(scheme, importer[key]) for key, scheme in SCHEMES if importer.get(key)
    )


def _contact(personal: dict[str, Any]) -> str:
    """The importer's telephone / e-mail: the addressee's."""
    addressee = personal.get("addressee") or {}
    return " · ".join(p for p in (addressee.get("phone"), addressee.get("email")) if p)


@cache
def _office(code: str) -> tuple[str, str]:
    """The designated operator owning the posting site, and the site as printed."""
    office = impc_codes().get(code)
    sites = {site.code: site.name for site in load_network().sites}
    name = sites.get(code) or (office.name.title() if office else "")
    return (office.operator_name if office else ""), (f"{name} ({code})" if name else code)


def _service_name(code: str) -> str:
    svc = services().by_code.get(code)
    return svc.name if svc else code


class PdfDocuments:
    """Implements :class:`postex.items.app.documents.Documents` with the reportlab renderers."""

    def label(self, view: ItemView, printed_on: date) -> bytes:
        return render_label(self._label(view, printed_on))

    def cn23(self, view: ItemView, printed_on: date) -> bytes:
        return render_cn23(self._cn23(view, printed_on))

    def batch(self, views: Sequence[ItemView], printed_on: date) -> bytes:
        labels = [self._label(v, printed_on) for v in views]
        cn23s = [self._cn23(v, printed_on) for v in views if needs_cn23(v)]
        return render_batch(labels, cn23s)

    def collection(self, sender: str, day: date, views: Sequence[ItemView]) -> bytes:
        rows = tuple(
            CollectionRow(
                v.record.id,
                _service_name(v.record.service),
                v.record.destination,
                v.record.weight_g,
                str((v.personal or {}).get("reference") or ""),
                v.record.state,
            )
            for v in views
        )
        return render_collection(CollectionData(sender, day, rows))

    def _label(self, view: ItemView, printed_on: date) -> LabelData:
        record, personal = view.record, view.personal or {}
        sender = _address(personal.get("sender", {}))
        contents = personal.get("contents", {})
        cn22 = None
        if record.customs_form == "CN22":
            cn22 = Cn22Data(
                category=_category(contents),
                lines=_lines(contents),
                currency=_currency(contents),
                gross_weight_g=record.weight_g,
                signed_on=printed_on,
                signatory=sender.name,
                category_explanation=contents.get("explanation") or "",
                operator=_office(record.origin_site)[0],
                importer_references=_importer(personal),
                importer_contact=_contact(personal),
                licence_numbers=tuple(x for x in [contents.get("licence")] if x),
                certificate_numbers=tuple(x for x in [contents.get("certificate")] if x),
                invoice_number=contents.get("invoice_number") or "",
            )
        return LabelData(
            item_id=record.id,
            service=_service_name(record.service),
            sender=sender,
            addressee=_address(personal.get("addressee", {})),
            weight_g=record.weight_g,
            cn22=cn22,
        )

    def _cn23(self, view: ItemView, printed_on: date) -> Cn23Data:
        record, personal = view.record, view.personal or {}
        contents = personal.get("contents", {})
        sender = _address(personal.get("sender", {}))
        operator, office = _office(record.origin_site)
        return Cn23Data(
            item_id=record.id,
            sender=sender,
            addressee=_address(personal.get("addressee", {})),
            category=_category(contents),
            lines=_lines(contents),
            currency=_currency(contents),
            gross_weight_g=record.weight_g,
            postal_charges_minor=0,
            signed_on=printed_on,
            signatory=sender.name,
            category_explanation=contents.get("explanation") or "",
            importer_references=_importer(personal),
            licence_numbers=tuple(x for x in [contents.get("licence")] if x),
            certificate_numbers=tuple(x for x in [contents.get("certificate")] if x),
            invoice_number=contents.get("invoice_number") or "",
            comments=contents.get("comments") or "",
            operator=operator,
            office_of_origin=office,
            posted_on=printed_on,
            importer_contact=_contact(personal),
        )
