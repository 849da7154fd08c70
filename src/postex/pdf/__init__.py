"""Printable postal documents as PDF bytes: labels with CN22, CN23, CN35, CN38 and CN31."""

from postex.pdf.customs import render_cn23
from postex.pdf.despatches import render_despatch_bill
from postex.pdf.labels import render_label
from postex.pdf.models import (
    Address,
    Category,
    Cn22Data,
    Cn23Data,
    Cn35Data,
    ContentsLine,
    DespatchBillData,
    LabelData,
    Office,
    ReceptacleLine,
    TaxReference,
    TaxScheme,
)
from postex.pdf.receptacles import render_cn35

__all__ = [
    "Address",
    "Category",
    "Cn22Data",
    "Cn23Data",
    "Cn35Data",
    "ContentsLine",
    "DespatchBillData",
    "LabelData",
    "Office",
    "ReceptacleLine",
    "TaxReference",
    "TaxScheme",
    "render_cn23",
    "render_cn35",
    "render_despatch_bill",
    "render_label",
]
