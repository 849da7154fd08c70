"""UPU S8 despatch identifiers (20 characters) and S9 receptacle identifiers (29 characters).

Layout (UPU.md section 2)::

    GBLHRA DEFRAA A CA 1 2000 | 200 0 0 2000
    origin dest.  cat sub yr serial | receptacle highest registered weight

The first 20 characters are the despatch id; the receptacle id appends a 3-digit receptacle
serial, the highest-receptacle and registered/insured indicators (0, 1 or 9 = unknown) and the
gross weight in units of 0.1 kg, where 9999 means "over 999.8 kg".

Constructors validate every field and raise :class:`ValidationError` naming the attribute
(``origin``, ``serial`` …); :meth:`DespatchId.parse` and :meth:`ReceptacleId.parse` re-raise
with the field ``despatch_id`` / ``receptacle_id``, the same rule and the text given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postex.kernel.errors import FieldError, ValidationError

DESPATCH_ID_LENGTH = 20
RECEPTACLE_ID_LENGTH = 29
CATEGORIES = frozenset("ABCD")
MAIL_CLASSES = frozenset("CUE")
INDICATORS = frozenset({0, 1, 9})
DESPATCH_SERIAL_MAX = 9999
RECEPTACLE_SERIAL_MAX = 999
WEIGHT_FIELD_MAX = 9999

_IMPC = re.compile(r"[A-Z]{6}")
_SUBCLASS = re.compile(r"[CUE][A-Z0-9]")
_DIGITS = re.compile(r"[0-9]+")


def is_impc_code(text: object) -> bool:
    """Whether ``text`` has the form of an IMPC code: exactly 6 letters A–Z."""
    return isinstance(text, str) and _IMPC.fullmatch(text) is not None


def weight_field(weight_g: int) -> int:
    """The S9 weight field for a gross weight in grams.

    Rounds half up to the nearest 0.1 kg; a non-empty receptacle (weight > 0 g) reports at
    least 1; anything that would round to 999.9 kg or more is 9999 ("over 999.8 kg").
    Raises :class:`ValidationError` (field ``weight_g``, rule ``negative``) below 0 g.
    """
    if weight_g < 0:
        raise ValidationError.single("weight_g", "negative", weight_g, "a weight cannot be < 0")
    if weight_g == 0:
        return 0
    return min(max((weight_g + 50) // 100, 1), WEIGHT_FIELD_MAX)


def _err(field: str, rule: str, value: object, message: str) -> FieldError:
    return FieldError(field, rule, value, message)


def _despatch_errors(d: DespatchId) -> list[FieldError]:
    errors: list[FieldError] = []
    for name, code in (("origin", d.origin), ("destination", d.destination)):
        if not is_impc_code(code):
            errors.append(_err(name, "impc_format", code, "an IMPC code is 6 letters A–Z"))
    if d.category not in CATEGORIES:
        errors.append(_err("category", "category", d.category, "mail category is A, B, C or D"))
    if not isinstance(d.subclass, str) or _SUBCLASS.fullmatch(d.subclass) is None:
        errors.append(
            _err(
                "subclass",
                "subclass",
                d.subclass,
                "subclass is 2 characters A–Z/0–9 starting with the mail class C, U or E",
            )
        )
    if not 0 <= d.year_digit <= 9:
        errors.append(_err("year_digit", "year_digit", d.year_digit, "year digit is 0–9"))
    if not 1 <= d.serial <= DESPATCH_SERIAL_MAX:
        errors.append(_err("serial", "serial_range", d.serial, "despatch serial is 1–9999"))
    return errors


@dataclass(frozen=True, order=True)
class DespatchId:
    """An S8 despatch identifier (20 characters)."""

    origin: str
    destination: str
    category: str
    subclass: str
    year_digit: int
    serial: int

    def __post_init__(self) -> None:
        errors = _despatch_errors(self)
        if errors:
            raise ValidationError(errors)

    @property
    def mail_class(self) -> str:
        """The mail class: the first letter of the subclass (C parcels, U letters, E EMS)."""
        return self.subclass[0]

    def __str__(self) -> str:
        return (
            f"{self.origin}{self.destination}{self.category}{self.subclass}"
            f"{self.year_digit}{self.serial:04d}"
        )

    @classmethod
    def parse(cls, text: object) -> DespatchId:
        """Parse a 20-character S8 id; raise :class:`ValidationError` on field ``despatch_id``."""
        return _parse_despatch(text, "despatch_id", DESPATCH_ID_LENGTH)


@dataclass(frozen=True, order=True)
class ReceptacleId:
    """An S9 receptacle identifier (29 characters).

    ``weight_dag`` is the S9 weight field in units of 0.1 kg (hectograms, despite the name):
    ``123`` is 12.3 kg and ``9999`` means over 999.8 kg. Build it with :func:`weight_field`.
    """

    despatch: DespatchId
    receptacle_serial: int
    highest: int
    registered: int
    weight_dag: int

    def __post_init__(self) -> None:
        errors: list[FieldError] = []
        if not 1 <= self.receptacle_serial <= RECEPTACLE_SERIAL_MAX:
            errors.append(
                _err(
                    "receptacle_serial",
                    "serial_range",
                    self.receptacle_serial,
                    "receptacle serial is 1–999",
                )
            )
        for name, value in (("highest", self.highest), ("registered", self.registered)):
            if value not in INDICATORS:
                errors.append(_err(name, "indicator", value, f"{name} indicator is 0, 1 or 9"))
        if not 0 <= self.weight_dag <= WEIGHT_FIELD_MAX:
            errors.append(
                _err("weight_dag", "weight_range", self.weight_dag, "weight field is 0000–9999")
            )
        if errors:
            raise ValidationError(errors)

    def __str__(self) -> str:
        return (
            f"{self.despatch}{self.receptacle_serial:03d}{self.highest}{self.registered}"
            f"{self.weight_dag:04d}"
        )

    @classmethod
    def parse(cls, text: object) -> ReceptacleId:
        """Parse a 29-character S9 id; raise :class:`ValidationError` on field ``receptacle_id``."""
        field = "receptacle_id"
        text = _require_str(text, field)
        despatch = _parse_despatch(text, field, RECEPTACLE_ID_LENGTH)
        serial, highest, registered, weight = text[20:23], text[23], text[24], text[25:29]
        for part, rule, message in (
            (serial, "serial_format", "characters 21–23 (receptacle serial) must be digits"),
            (highest, "indicator", "character 24 (highest receptacle) must be 0, 1 or 9"),
            (registered, "indicator", "character 25 (registered) must be 0, 1 or 9"),
            (weight, "weight_format", "characters 26–29 (weight) must be digits"),
        ):
            if _DIGITS.fullmatch(part) is None:
                raise ValidationError.single(field, rule, text, message)
        try:
            return cls(despatch, int(serial), int(highest), int(registered), int(weight))
        except ValidationError as exc:
            raise _renamed(exc, field, text) from None


def _renamed(exc: ValidationError, field: str, text: str) -> ValidationError:
    return ValidationError([FieldError(field, e.rule, text, e.message) for e in exc.errors])


def _require_str(text: object, field: str) -> str:
    if not isinstance(text, str):
        raise ValidationError.single(field, "type", repr(text), "an id must be a string")
    return text


def _parse_despatch(text: object, field: str, length: int) -> DespatchId:
    text = _require_str(text, field)
    if len(text) != length:
        raise ValidationError.single(
            field, "length", text, f"must have {length} characters, not {len(text)}"
        )
    year, serial = text[15], text[16:20]
    if _DIGITS.fullmatch(year) is None:
        raise ValidationError.single(field, "year_digit", text, "character 16 must be a digit")
    if _DIGITS.fullmatch(serial) is None:
        raise ValidationError.single(
            field, "serial_format", text, "characters 17–20 (despatch serial) must be digits"
        )
    try:
        return DespatchId(text[0:6], text[6:12], text[12], text[13:15], int(year), int(serial))
    except ValidationError as exc:
        raise _renamed(exc, field, text) from None
