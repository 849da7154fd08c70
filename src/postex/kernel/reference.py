"""Reference data as typed values, read from the packaged, versioned data files.

Reading a packaged data file is the one I/O the domain allows; it happens on first use,
never at import time, and each file is read once per process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from postex.kernel.errors import ValidationError


def read_data_file(name: str) -> Any:
    """Parse one JSON file of ``postex.data``."""
    text = resources.files("postex.data").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    mail_class: str  # U letter post, C parcels, E EMS
    s10_prefix: str
    tracked: bool
    registered: bool
    max_weight_g: int
    max_length_mm: int
    max_sum_mm: int
    serial_first: int
    serial_last: int

    @property
    def is_parcel(self) -> bool:
        return self.mail_class in ("C", "E")


@dataclass(frozen=True)
class Services:
    version: str
    by_code: dict[str, Service]

    def get(self, code: object, field: str = "service") -> Service:
        if isinstance(code, str) and code in self.by_code:
            return self.by_code[code]
        known = ", ".join(sorted(self.by_code))
        raise ValidationError.single(
            field, "unknown_service", code, f"service must be one of: {known}"
        )

    def by_prefix(self, prefix: str) -> Service | None:
        return next((s for s in self.by_code.values() if s.s10_prefix == prefix), None)


@cache
def services() -> Services:
    raw = read_data_file("services.json")
    by_code = {}
    for s in raw["services"]:
        first, last = s["serial_block"]
        by_code[s["code"]] = Service(
            code=s["code"],
            name=s["name"],
            mail_class=s["mail_class"],
            s10_prefix=s["s10_prefix"],
            tracked=s["tracked"],
            registered=s["registered"],
            max_weight_g=s["max_weight_g"],
            max_length_mm=s["max_length_mm"],
            max_sum_mm=s["max_sum_mm"],
            serial_first=first,
            serial_last=last,
        )
    return Services(raw["version"], by_code)


@dataclass(frozen=True)
class CustomsRules:
    version: str
    currency: str
    cn22_max_value_minor: int
    rates_ppm: dict[str, int]
    minor_unit_exponent: dict[str, int]
    categories: tuple[str, ...]
    vague_descriptions: frozenset[str]
    cn22_max_lines: int = 3

    def to_threshold_currency(self, value_minor: int, currency: str) -> int | None:
        """Convert minor units of ``currency`` to minor units of the threshold currency.

        Returns None when no rate is known (the caller then treats the value as above the
        CN22 threshold: CN23 is allowed at any value).
        """
        rate = self.rates_ppm.get(currency)
        if rate is None:
            return None
        exponent = self.minor_unit_exponent.get(currency, 2)
        target_exponent = self.minor_unit_exponent.get(self.currency, 2)
        scaled = value_minor * rate * 10**target_exponent
        return int(scaled // (1_000_000 * 10**exponent))


@cache
def customs_rules() -> CustomsRules:
    raw = read_data_file("customs.json")
    return CustomsRules(
        version=raw["version"],
        currency=raw["currency"],
        cn22_max_value_minor=raw["cn22_max_value_minor"],
        cn22_max_lines=raw.get("cn22_max_lines", 3),
        rates_ppm=dict(raw["rates_ppm"]),
        minor_unit_exponent=dict(raw["minor_unit_exponent"]),
        categories=tuple(raw["categories"]),
        vague_descriptions=frozenset(d.lower() for d in raw["vague_descriptions"]),
    )
