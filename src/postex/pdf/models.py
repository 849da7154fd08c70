"""What the PDF renderers print: plain frozen records, already decided by the application.

Amounts are integers: weights in grams (``_g``) or in tenths of a kilogram (``_hg``, the unit
of the S9 receptacle id), money in minor units of the declaration's currency. Each record
checks only what would make the printed form wrong or unprintable (an id of the wrong shape, a
negative amount, an office that contradicts the id) and raises ``ValidationError`` otherwise;
the business rules (check digits, thresholds, description quality) belong to the domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

from postex.kernel.errors import ValidationError

_S10 = re.compile(r"[A-Z]{2}[0-9]{9}[A-Z]{2}")
_S8 = re.compile(r"[A-Z]{12}[A-D][A-Z][A-Z0-9][0-9]{5}")
_S9 = re.compile(r"[A-Z]{12}[A-D][A-Z][A-Z0-9][0-9]{14}")
_IMPC = re.compile(r"[A-Z]{6}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_S9_MAX_WEIGHT_HG = 9999


def _shape(field: str, value: str, pattern: re.Pattern[str], what: str) -> None:
    if not pattern.fullmatch(value):
        raise ValidationError.single(field, "shape", value, f"not {what}")


def _not_negative(field: str, value: int) -> None:
    if value < 0:
        raise ValidationError.single(field, "not-negative", value, "must not be negative")


class Category(StrEnum):
    """The item category ticked on a CN22 or CN23 (exactly one)."""

    GIFT = "gift"
    DOCUMENTS = "documents"
    COMMERCIAL_SAMPLE = "commercial_sample"
    RETURNED_GOODS = "returned_goods"
    SALE_OF_GOODS = "sale_of_goods"
    OTHER = "other"


class TaxScheme(StrEnum):
    """Kinds of importer reference a CN23 can carry."""

    TAX_ID = "tax_id"
    VAT = "vat"
    EORI = "eori"
    IOSS = "ioss"


@dataclass(frozen=True, slots=True)
class Address:
    """A sender or addressee as printed: name, optional company, street lines, place, contacts.

    ``region`` is the state, province or prefecture; it is printed where the destination's
    address format puts it (see ``postex.kernel.addressing``).
    """

    name: str
    lines: tuple[str, ...]
    city: str
    postcode: str
    country: str
    company: str = ""
    phone: str = ""
    email: str = ""
    region: str = ""


@dataclass(frozen=True, slots=True)
class ContentsLine:
    """One line of goods; ``value_minor`` is the whole line's value, in minor units."""

    description: str
    quantity: int
    net_weight_g: int
    value_minor: int
    hs_code: str = ""
    origin_country: str = ""

    def __post_init__(self) -> None:
        _not_negative("quantity", self.quantity)
        _not_negative("net_weight_g", self.net_weight_g)
        _not_negative("value_minor", self.value_minor)


@dataclass(frozen=True, slots=True)
class TaxReference:
    scheme: TaxScheme
    value: str


def _check_declaration(currency: str, gross_g: int) -> None:
    _shape("currency", currency, _CURRENCY, "an ISO 4217 currency code")
    _not_negative("gross_weight_g", gross_g)


@dataclass(frozen=True, slots=True)
class Cn22Data:
    """The compact customs declaration printed on a label; totals are computed from the lines."""

    category: Category
    lines: tuple[ContentsLine, ...]
    currency: str
    gross_weight_g: int
    signed_on: date
    signatory: str = ""
    category_explanation: str = ""
    operator: str = ""
    importer_references: tuple[TaxReference, ...] = ()
    importer_contact: str = ""
    licence_numbers: tuple[str, ...] = ()
    certificate_numbers: tuple[str, ...] = ()
    invoice_number: str = ""

    def __post_init__(self) -> None:
        _check_declaration(self.currency, self.gross_weight_g)


@dataclass(frozen=True, slots=True)
class LabelData:
    """A 4×6 inch address label for one item, with its CN22 when it travels with one."""

    item_id: str
    service: str
    sender: Address
    addressee: Address
    weight_g: int
    cn22: Cn22Data | None = None

    def __post_init__(self) -> None:
        _shape("item_id", self.item_id, _S10, "an S10 item identifier")
        _not_negative("weight_g", self.weight_g)


@dataclass(frozen=True, slots=True)
class Cn23Data:
    """A full CN23; total net weight and total value are computed from the lines."""

    item_id: str
    sender: Address
    addressee: Address
    category: Category
    lines: tuple[ContentsLine, ...]
    currency: str
    gross_weight_g: int
    postal_charges_minor: int
    signed_on: date
    signatory: str = ""
    category_explanation: str = ""
    importer_references: tuple[TaxReference, ...] = ()
    licence_numbers: tuple[str, ...] = ()
    certificate_numbers: tuple[str, ...] = ()
    invoice_number: str = ""
    comments: str = ""
    operator: str = ""
    office_of_origin: str = ""
    posted_on: date | None = None
    sender_reference: str = ""
    importer_contact: str = ""

    def __post_init__(self) -> None:
        _shape("item_id", self.item_id, _S10, "an S10 item identifier")
        _check_declaration(self.currency, self.gross_weight_g)
        _not_negative("postal_charges_minor", self.postal_charges_minor)


@dataclass(frozen=True, slots=True)
class Office:
    """An office of exchange: its 6-letter IMPC code and its name."""

    code: str
    name: str

    def __post_init__(self) -> None:
        _shape("code", self.code, _IMPC, "an IMPC office of exchange code")


def _check_offices(field: str, the_id: str, origin: Office, destination: Office) -> None:
    if origin.code != the_id[0:6]:
        raise ValidationError.single("origin", "matches-id", origin.code, f"not the {field}'s")
    if destination.code != the_id[6:12]:
        raise ValidationError.single(
            "destination", "matches-id", destination.code, f"not the {field}'s"
        )


@dataclass(frozen=True, slots=True)
class Cn35Data:
    """A receptacle (bag) label. Category, subclass and serials are read from the S9 id.

    ``gross_weight_hg`` is in tenths of a kilogram and must agree with the id's weight field
    (which saturates at 9999).
    """

    receptacle_id: str
    origin: Office
    destination: Office
    gross_weight_hg: int
    carrier: str = ""
    flight: str = ""
    flight_date: date | None = None

    def __post_init__(self) -> None:
        _shape("receptacle_id", self.receptacle_id, _S9, "an S9 receptacle identifier")
        _check_offices("receptacle_id", self.receptacle_id, self.origin, self.destination)
        _not_negative("gross_weight_hg", self.gross_weight_hg)
        if min(self.gross_weight_hg, _S9_MAX_WEIGHT_HG) != int(self.receptacle_id[25:29]):
            raise ValidationError.single(
                "gross_weight_hg", "matches-id", self.gross_weight_hg, "not the id's weight"
            )


@dataclass(frozen=True, slots=True)
class ReceptacleLine:
    """One receptacle on a bill: its S9 id, gross weight (0.1 kg) and number of items."""

    receptacle_id: str
    gross_weight_hg: int
    item_count: int

    def __post_init__(self) -> None:
        _shape("receptacle_id", self.receptacle_id, _S9, "an S9 receptacle identifier")
        _not_negative("gross_weight_hg", self.gross_weight_hg)
        _not_negative("item_count", self.item_count)


@dataclass(frozen=True, slots=True)
class DespatchBillData:
    """A CN38 delivery bill (airmail) or CN31 letter bill for one despatch (S8 id)."""

    form: Literal["CN38", "CN31"]
    despatch_id: str
    origin: Office
    destination: Office
    despatched_on: date
    receptacles: tuple[ReceptacleLine, ...]
    carrier: str = ""
    flight: str = ""

    def __post_init__(self) -> None:
        if self.form not in ("CN38", "CN31"):
            raise ValidationError.single("form", "one-of", self.form, "must be CN38 or CN31")
        _shape("despatch_id", self.despatch_id, _S8, "an S8 despatch identifier")
        _check_offices("despatch_id", self.despatch_id, self.origin, self.destination)
        for n, line in enumerate(self.receptacles, start=1):
            if not line.receptacle_id.startswith(self.despatch_id):
                raise ValidationError.single(
                    f"receptacles[{n}].receptacle_id",
                    "in-despatch",
                    line.receptacle_id,
                    "receptacle is not in this despatch",
                )
