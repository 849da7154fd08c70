"""UPU S10 item identifiers: ``AA 12345678 C BB`` (13 characters).

Two letters of service indicator, an 8-digit serial, a check digit computed with the
weights 8 6 4 2 3 5 9 7 (mod 11; 10 → 0, 11 → 5), and the ISO 3166-1 alpha-2 code of the
issuing post. J and K are reserved service indicator letters and never valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from postex.kernel.errors import ValidationError

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
S10_LENGTH = 13
RESERVED_LETTERS = frozenset("JK")
SERIAL_MAX = 99_999_999


def _weighted_sums(weights: tuple[int, ...]) -> tuple[int, ...]:
    """Weighted digit sum of every 4-digit block 0000…9999 under ``weights``."""
    return tuple(
        sum(int(d) * w for d, w in zip(f"{n:04d}", weights, strict=True)) for n in range(10_000)
    )


# The serial's weighted sum is the sum of its two 4-digit halves' sums: two lookups instead
# of eight divisions (ids are issued in bulk, on the append path).
_HIGH_SUMS = _weighted_sums(S10_WEIGHTS[:4])
_LOW_SUMS = _weighted_sums(S10_WEIGHTS[4:])
_CHECK_OF_REMAINDER = tuple(
    {10: 0, 11: 5}.get(11 - r, 11 - r) for r in range(11)
)  # 11 - (sum mod 11), with 10 → 0 and 11 → 5


def s10_check_digit(serial: int) -> int:
    """The check digit of an 8-digit serial (0 ≤ serial ≤ 99,999,999)."""
    if not 0 <= serial <= SERIAL_MAX:
        raise ValidationError.single("serial", "serial_range", serial, "serial must have 8 digits")
    high, low = divmod(serial, 10_000)
    return _CHECK_OF_REMAINDER[(_HIGH_SUMS[high] + _LOW_SUMS[low]) % 11]


def _bad(rule: str, value: str, message: str, field: str) -> ValidationError:
    return ValidationError.single(field, rule, value, message)


def _check_parts(prefix: object, country: object) -> None:
    """Refuse a bad service indicator or country; remember a good pair (there are few)."""
    p, c = prefix, country
    if not isinstance(p, str) or len(p) != 2 or not p.isascii() or not p.isalpha():
        raise _bad("service_indicator", str(p), "service indicator must be 2 letters A–Z", "id")
    if not p.isupper():
        raise _bad("service_indicator", p, "service indicator must be 2 letters A–Z", "id")
    if p[0] in RESERVED_LETTERS:
        raise _bad(
            "reserved_service_indicator",
            p,
            "service indicators starting with J or K are reserved by the UPU",
            "id",
        )
    if not isinstance(c, str) or len(c) != 2 or not c.isascii() or not c.isalpha():
        raise _bad("country_code", str(c), "issuing country must be ISO 3166-1 alpha-2", "id")
    if not c.isupper():
        raise _bad("country_code", c, "issuing country must be ISO 3166-1 alpha-2", "id")
    if len(_CHECKED_PARTS) < 4096:  # bounded, whatever callers construct
        _CHECKED_PARTS.add((p, c))


_CHECKED_PARTS: set[tuple[str, str]] = set()


@dataclass(frozen=True, order=True, slots=True)
class S10:
    """A valid S10 identifier. Construct with :meth:`parse` or :meth:`issue`."""

    prefix: str
    serial: int
    country: str
    _text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        p, c = self.prefix, self.country
        if (p, c) not in _CHECKED_PARTS:
            _check_parts(p, c)
        if not 0 <= self.serial <= SERIAL_MAX:
            raise _bad("serial_range", str(self.serial), "serial must have 8 digits", "id")
        text = f"{p}{self.serial:08d}{s10_check_digit(self.serial)}{c}"
        object.__setattr__(self, "_text", text)

    @property
    def check_digit(self) -> int:
        return s10_check_digit(self.serial)

    def __str__(self) -> str:
        return self._text

    @classmethod
    def issue(cls, prefix: str, serial: int, country: str) -> S10:
        return cls(prefix, serial, country)

    @classmethod
    def parse(cls, text: object, field: str = "id") -> S10:
        """Parse and validate; raise :class:`ValidationError` naming the rule that failed.

        Spaces are tolerated (labels print ``LA 12345678 5 GB``); lower case is not fixed
        silently because a scanner never produces it.
        """
        if not isinstance(text, str):
            raise _bad("type", repr(text), "an S10 id is a 13-character string", field)
        raw = text.replace(" ", "")
        if len(raw) != S10_LENGTH:
            raise _bad("length", text, "an S10 id has 13 characters, e.g. RB123456785GB", field)
        if not raw.isascii():
            raise _bad("format", text, "an S10 id uses only A–Z and 0–9", field)
        prefix, digits, check, country = raw[:2], raw[2:10], raw[10], raw[11:]
        if not (prefix.isalpha() and prefix.isupper()):
            raise _bad(
                "service_indicator",
                text,
                "the first two characters must be upper-case letters",
                field,
            )
        if prefix[0] in RESERVED_LETTERS:
            raise _bad(
                "reserved_service_indicator",
                text,
                "service indicators starting with J or K are reserved by the UPU",
                field,
            )
        if not (digits.isdigit() and check.isdigit()):
            raise _bad("serial_digits", text, "characters 3–11 must be digits", field)
        if not (country.isalpha() and country.isupper()):
            raise _bad(
                "country_code", text, "the last two characters must be an ISO country code", field
            )
        serial = int(digits)
        if int(check) != s10_check_digit(serial):
            raise _bad(
                "check_digit",
                text,
                f"check digit is {check}, expected {s10_check_digit(serial)}",
                field,
            )
        return cls(prefix, serial, country)


def is_valid_s10(text: object) -> bool:
    try:
        S10.parse(text)
    except ValidationError:
        return False
    return True
