"""Postal addresses of senders and addressees, checked against each country's rules.

Required fields and postcode patterns come from Google's address dataset
(``postex.kernel.addressing``), not from hand-written patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from postex.kernel.addressing import country_rules, postcode_valid
from postex.kernel.countries import check_country
from postex.kernel.errors import ValidationError
from postex.kernel.validation import Checker, as_mapping, reject_unknown

GENERIC_POSTCODE = re.compile(r"^[A-Z0-9][A-Z0-9 -]{0,11}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 ()./-]{5,30}$")
MAX_ADDRESS_LINES = 3

FIELDS = {
    "name",
    "company",
    "address_lines",
    "city",
    "region",
    "postcode",
    "country",
    "phone",
    "email",
}


@dataclass(frozen=True)
class Address:
    """A validated address. Personal data: it is only ever stored encrypted."""

    name: str
    address_lines: tuple[str, ...]
    city: str
    country: str
    postcode: str | None = None
    region: str | None = None
    company: str | None = None
    phone: str | None = None
    email: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "address_lines": list(self.address_lines),
            "city": self.city,
            "country": self.country,
        }
        for key in ("postcode", "region", "company", "phone", "email"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Address:
        return cls(
            name=data["name"],
            address_lines=tuple(data["address_lines"]),
            city=data["city"],
            country=data["country"],
            postcode=data.get("postcode"),
            region=data.get("region"),
            company=data.get("company"),
            phone=data.get("phone"),
            email=data.get("email"),
        )


def normalise_postcode(country: str, value: object, field: str) -> str | None:
    """Upper-case and trim a postcode, then check it against the destination's patterns.

    Required, and the patterns, as Google's address dataset says (``kernel.addressing``).
    """
    rules = country_rules(country)
    if value is None or (isinstance(value, str) and not value.strip()):
        if "postcode" not in rules.required:
            return None
        raise ValidationError.single(
            field, "required", value, f"a postcode is required for {country}"
        )
    if not isinstance(value, str):
        raise ValidationError.single(field, "type", value, "postcode must be a string")
    code = " ".join(value.strip().upper().split())
    if not GENERIC_POSTCODE.fullmatch(code) or not postcode_valid(country, code):
        example = f", e.g. {rules.postcode_example}" if rules.postcode_example else ""
        raise ValidationError.single(
            field, "postcode_format", value, f"not a valid postcode for {country}{example}"
        )
    return code


def normalise_region(country: str, value: str | None, field: str) -> str | None:
    """The state, province or prefecture: required where the destination requires one.

    A name the dataset knows is replaced by its Latin-script code ("Illinois" → "IL"), as
    the destination prints it; other values are kept as given.
    """
    rules = country_rules(country)
    if value is None:
        if "region" not in rules.required:
            return None
        example = f", e.g. {rules.region_example}" if rules.region_example else ""
        raise ValidationError.single(
            field, "required", value, f"a {rules.region_type} is required for {country}{example}"
        )
    return rules.region_keys.get(value.casefold(), value)


def parse_address(value: object, field: str) -> Address:
    """Validate an address object; every broken rule is reported, nested under ``field``."""
    data = as_mapping(value, field)
    c = Checker(field)
    reject_unknown(data, FIELDS, c)
    name = c.text(data, "name", max_len=100)
    company = c.text(data, "company", required=False, max_len=100)
    city = c.text(data, "city", max_len=60)
    region = c.text(data, "region", required=False, max_len=60)
    lines_raw = data.get("address_lines")
    lines: list[str] = []
    if not isinstance(lines_raw, list) or not 1 <= len(lines_raw) <= MAX_ADDRESS_LINES:
        c.fail("address_lines", "lines_count", lines_raw, "give 1 to 3 address lines")
    else:
        line_checker = Checker(c.path("address_lines"))
        for i, line in enumerate(lines_raw):
            text = line_checker.text({str(i): line}, str(i), max_len=80)
            if text is not None:
                lines.append(text)
        c.errors.extend(line_checker.errors)
    country = c.run(lambda: check_country(data.get("country"), "country"))
    postcode = None
    if country is not None:
        postcode = c.run(lambda: normalise_postcode(country, data.get("postcode"), "postcode"))
        if not any(e.field == c.path("region") for e in c.errors):
            given = region
            region = c.run(lambda: normalise_region(country, given, "region"))
    phone = c.text(data, "phone", required=False, max_len=30)
    if phone is not None and not PHONE.fullmatch(phone):
        c.fail("phone", "phone_format", phone, "phone: digits, spaces and + ( ) - . / only")
        phone = None
    email = c.text(data, "email", required=False, max_len=254)
    if email is not None and not EMAIL.fullmatch(email):
        c.fail("email", "email_format", email, "not a valid e-mail address")
        email = None
    c.done()
    assert name is not None and city is not None and country is not None
    return Address(
        name=name,
        address_lines=tuple(lines),
        city=city,
        country=country,
        postcode=postcode,
        region=region,
        company=company,
        phone=phone,
        email=email,
    )
