"""ISO 3166-1 countries and ISO 4217 currencies, from pycountry's data."""

from __future__ import annotations

from functools import cache

import pycountry

from postex.kernel.errors import ValidationError


@cache
def _alpha2() -> dict[str, str]:
    return {c.alpha_2: c.name for c in pycountry.countries}


@cache
def _currencies() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


def country_name(code: str) -> str:
    return _alpha2()[code]


def check_country(value: object, field: str) -> str:
    """Return the ISO 3166-1 alpha-2 code, or raise naming the field and rule."""
    if isinstance(value, str) and value in _alpha2():
        return value
    raise ValidationError.single(
        field, "iso3166_alpha2", value, "country must be an ISO 3166-1 alpha-2 code, e.g. GB"
    )


def check_currency(value: object, field: str) -> str:
    if isinstance(value, str) and value in _currencies():
        return value
    raise ValidationError.single(
        field, "iso4217", value, "currency must be an ISO 4217 code, e.g. GBP"
    )
