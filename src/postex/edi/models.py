"""Plain values the EDI writers render and the readers return.

Amounts are integers only: weights in grams, money in minor currency units (pence, cents)
with an ISO 4217 currency code. Times are timezone-aware; a naive datetime is refused.
Item ids are S10 strings, despatch and receptacle ids the domain's S8/S9 values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from postex.kernel.dispatch_ids import DespatchId, ReceptacleId
from postex.kernel.errors import FieldError, ValidationError

ITEM_CATEGORIES = frozenset(
    {"gift", "documents", "commercial_sample", "returned_goods", "sale_of_goods", "other"}
)
RESDIT_EVENTS = {"74": "taken into custody by the carrier", "21": "delivered by the carrier"}


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError.single(name, "timezone", value.isoformat(), "needs a UTC offset")


def _not_negative(name: str, value: int) -> None:
    if value < 0:
        raise ValidationError.single(name, "negative", value, f"{name} cannot be negative")


@dataclass(frozen=True)
class MessageHeader:
    """Who sends which message to whom, and when it was prepared."""

    message_id: str
    prepared_at: datetime
    sender: str
    recipient: str

    def __post_init__(self) -> None:
        _aware(self.prepared_at, "prepared_at")
        if not self.message_id:
            raise ValidationError.single("message_id", "required", "", "message id is empty")


@dataclass(frozen=True)
class PlannedTransport:
    """The flight a despatch is planned on: IATA carrier code, flight number, date."""

    carrier: str
    flight: str
    departure_date: date


@dataclass(frozen=True)
class PredesReceptacle:
    """One closed receptacle of a despatch, its exact weight and the S10 ids inside."""

    receptacle_id: ReceptacleId
    gross_weight_g: int
    item_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        _not_negative("gross_weight_g", self.gross_weight_g)


@dataclass(frozen=True)
class PredesDespatch:
    """A closed despatch to pre-advise (PREDES); every receptacle belongs to it."""

    header: MessageHeader
    despatch_id: DespatchId
    transport: PlannedTransport
    receptacles: tuple[PredesReceptacle, ...]

    def __post_init__(self) -> None:
        for i, receptacle in enumerate(self.receptacles):
            if receptacle.receptacle_id.despatch != self.despatch_id:
                raise ValidationError.single(
                    f"receptacles[{i}].receptacle_id",
                    "other_despatch",
                    str(receptacle.receptacle_id),
                    f"receptacle is not part of despatch {self.despatch_id}",
                )


@dataclass(frozen=True)
class Party:
    """A sender or addressee with contacts."""

    name: str
    address_lines: tuple[str, ...]
    postcode: str
    city: str
    country: str
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    region: str | None = None  # state, province or prefecture


@dataclass(frozen=True)
class ImporterReferences:
    """The importer's tax/VAT number, EU IOSS number (IM + 10 digits) and EORI."""

    tax_id: str | None = None
    ioss: str | None = None
    eori: str | None = None


@dataclass(frozen=True)
class ContentLine:
    """One line of a CN22/CN23: what, how many, net weight, value, HS code, origin."""

    description: str
    quantity: int
    net_weight_g: int
    value_minor: int
    currency: str
    hs_code: str
    origin_country: str

    def __post_init__(self) -> None:
        for name in ("quantity", "net_weight_g", "value_minor"):
            _not_negative(name, getattr(self, name))


@dataclass(frozen=True)
class ItmattItem:
    """The electronic customs declaration of one item (ITMATT)."""

    item_id: str
    sender: Party
    addressee: Party
    category: str
    contents: tuple[ContentLine, ...]
    gross_weight_g: int
    total_value_minor: int
    currency: str
    postal_charges_minor: int
    importer: ImporterReferences = field(default_factory=ImporterReferences)
    category_explanation: str | None = None
    customs_form: str | None = None  # CN22 or CN23: the paper form the item travels with
    invoice_number: str | None = None
    licence_numbers: tuple[str, ...] = ()
    certificate_numbers: tuple[str, ...] = ()
    comments: str | None = None
    office_of_origin: str | None = None  # IMPC code of the office where it was posted
    posted_on: str | None = None  # ISO date of posting (pre-advice) at the office of origin

    def __post_init__(self) -> None:
        if self.category not in ITEM_CATEGORIES:
            raise ValidationError.single(
                "category", "category", self.category, f"one of {sorted(ITEM_CATEGORIES)}"
            )
        for name in ("gross_weight_g", "total_value_minor", "postal_charges_minor"):
            _not_negative(name, getattr(self, name))


@dataclass(frozen=True)
class CarditReceptacle:
    """A receptacle handed to the carrier, with its exact gross weight."""

    receptacle_id: ReceptacleId
    gross_weight_g: int

    def __post_init__(self) -> None:
        _not_negative("gross_weight_g", self.gross_weight_g)


@dataclass(frozen=True)
class CarditConsignment:
    """Receptacles handed to one carrier for one flight (CARDIT)."""

    header: MessageHeader
    consignment_id: str
    carrier: str
    flight: str
    departure_at: datetime
    departure_airport: str
    arrival_airport: str
    origin_office: str
    destination_office: str
    handover_office: str
    receptacles: tuple[CarditReceptacle, ...]

    def __post_init__(self) -> None:
        _aware(self.departure_at, "departure_at")

    @property
    def total_weight_g(self) -> int:
        return sum(r.gross_weight_g for r in self.receptacles)


@dataclass(frozen=True)
class ResditEvent:
    """A carrier's report on one receptacle: 74 taken into custody, 21 delivered."""

    receptacle_id: ReceptacleId
    event_code: str
    occurred_at: datetime
    location: str


@dataclass(frozen=True)
class EmsevtRow:
    """One valid tracking event read from an EMSEVT CSV file (``line`` is 1-based)."""

    line: int
    item_id: str
    event_code: str
    occurred_at: datetime
    office: str
    reason_code: str | None
    next_office: str | None


@dataclass(frozen=True)
class RowError:
    """A CSV row that was refused: its 1-based line and every rule it broke."""

    line: int
    errors: tuple[FieldError, ...]
