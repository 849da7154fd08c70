"""Customs declarations (CN22/CN23): categories, goods lines, totals and the form required.

Rules (UPU.md section 4): CN22 for letter-post goods up to the threshold (UK: £270), CN23
above it, for parcels and for more goods lines than a CN22 holds (3); no declaration for
documents and correspondence sent as letter post. Goods lines need a specific description,
a quantity, a net weight, a value above zero in an ISO 4217 currency, an HS code of 6–10
digits and a country of origin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from postex.kernel.countries import check_country, check_currency
from postex.kernel.errors import ValidationError
from postex.kernel.reference import CustomsRules, Service, customs_rules
from postex.kernel.validation import Checker, as_mapping, reject_unknown

HS_CODE = re.compile(r"^[0-9]{6,10}$")
IOSS = re.compile(r"^IM[0-9]{10}$")
EORI = re.compile(r"^[A-Z]{2}[A-Z0-9]{1,15}$")
MAX_LINES = 99
NO_GOODS = "documents"

CONTENTS_FIELDS = {
    "category",
    "lines",
    "invoice_number",
    "licence",
    "certificate",
    "comments",
    "explanation",
}
LINE_FIELDS = {
    "description",
    "quantity",
    "net_weight_g",
    "value_minor",
    "currency",
    "hs_code",
    "origin_country",
}
IMPORTER_FIELDS = {"tax_id", "ioss", "eori"}


@dataclass(frozen=True)
class GoodsLine:
    description: str
    quantity: int
    net_weight_g: int
    value_minor: int
    currency: str
    hs_code: str
    origin_country: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "quantity": self.quantity,
            "net_weight_g": self.net_weight_g,
            "value_minor": self.value_minor,
            "currency": self.currency,
            "hs_code": self.hs_code,
            "origin_country": self.origin_country,
        }


@dataclass(frozen=True)
class Contents:
    category: str
    lines: tuple[GoodsLine, ...]
    invoice_number: str | None = None
    licence: str | None = None
    certificate: str | None = None
    comments: str | None = None

    @property
    def has_goods(self) -> bool:
        return bool(self.lines)

    @property
    def total_value_minor(self) -> int:
        return sum(line.value_minor for line in self.lines)

    @property
    def total_net_weight_g(self) -> int:
        return sum(line.net_weight_g for line in self.lines)

    @property
    def currency(self) -> str | None:
        return self.lines[0].currency if self.lines else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "category": self.category,
            "lines": [line.to_dict() for line in self.lines],
        }
        for key in ("invoice_number", "licence", "certificate", "comments"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Contents:
        return cls(
            category=data["category"],
            lines=tuple(GoodsLine(**line) for line in data.get("lines", [])),
            invoice_number=data.get("invoice_number"),
            licence=data.get("licence"),
            certificate=data.get("certificate"),
            comments=data.get("comments"),
        )


@dataclass(frozen=True)
class Importer:
    tax_id: str | None = None
    ioss: str | None = None
    eori: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}


def is_vague(description: str, rules: CustomsRules) -> bool:
    """True when the description says nothing customs can classify ("gift", "goods" …)."""
    words = re.sub(r"[^a-z ]+", " ", description.lower()).split()
    return not words or " ".join(words) in rules.vague_descriptions


def _parse_line(value: object, field: str, rules: CustomsRules) -> GoodsLine | None:
    data = as_mapping(value, field)
    c = Checker(field)
    reject_unknown(data, LINE_FIELDS, c)
    description = c.text(data, "description", min_len=3, max_len=100)
    if description is not None and is_vague(description, rules):
        c.fail(
            "description",
            "vague_description",
            description,
            "describe the goods precisely (e.g. 'cotton T-shirt', not 'gift' or 'goods')",
        )
    quantity = c.integer(data, "quantity", minimum=1, maximum=99_999)
    net = c.integer(data, "net_weight_g", minimum=1, maximum=1_000_000)
    value = None
    if data.get("value_minor") == 0 and not isinstance(data.get("value_minor"), bool):
        c.fail("value_minor", "zero_value", 0, "goods must have a real value above zero")
    else:
        value = c.integer(data, "value_minor", minimum=1, maximum=10**12)
    currency = c.run(lambda: check_currency(data.get("currency"), "currency"))
    hs = data.get("hs_code")
    if not isinstance(hs, str) or not HS_CODE.fullmatch(hs):
        c.fail("hs_code", "hs_code_format", hs, "HS tariff number: 6 to 10 digits, e.g. 610910")
    origin = c.run(lambda: check_country(data.get("origin_country"), "origin_country"))
    if c.errors:
        raise ValidationError(c.errors)
    assert description and quantity and net and value and currency and origin
    assert isinstance(hs, str)
    return GoodsLine(description, quantity, net, value, currency, hs, origin)


def parse_contents(value: object, field: str = "contents") -> Contents:
    """Validate a contents declaration; all broken rules are reported together."""
    rules = customs_rules()
    data = as_mapping(value, field)
    c = Checker(field)
    reject_unknown(data, CONTENTS_FIELDS, c)
    category = data.get("category")
    if category not in rules.categories:
        c.fail("category", "category", category, "category: " + ", ".join(rules.categories))
    raw_lines = data.get("lines") or []
    if not isinstance(raw_lines, list):
        c.fail("lines", "type", raw_lines, "lines must be a list")
        raw_lines = []
    if len(raw_lines) > MAX_LINES:
        c.fail("lines", "max_items", len(raw_lines), f"at most {MAX_LINES} goods lines")
        raw_lines = []
    if category != NO_GOODS and category in rules.categories and not raw_lines:
        c.fail("lines", "goods_lines_required", None, f"a {category} item needs goods lines")
    lines = [
        c.run(lambda i=i, v=v: _parse_line(v, f"lines.{i}", rules))  # type: ignore[misc]
        for i, v in enumerate(raw_lines)
    ]
    good = [line for line in lines if line is not None]
    if len({line.currency for line in good}) > 1:
        c.fail(
            "lines", "single_currency", sorted({g.currency for g in good}), "one currency per item"
        )
    extras = {}
    for key, limit in (
        ("invoice_number", 35),
        ("licence", 35),
        ("certificate", 35),
        ("comments", 200),
    ):
        extras[key] = c.text(data, key, required=False, max_len=limit)
    explanation = c.text(data, "explanation", required=False, max_len=200)
    if category == "other" and not (explanation or extras["comments"]):
        c.fail(
            "comments",
            "explanation_required",
            None,
            "category 'other' needs an explanation in comments",
        )
    c.done()
    comments = extras["comments"] or explanation
    return Contents(
        category=str(category),
        lines=tuple(good),
        invoice_number=extras["invoice_number"],
        licence=extras["licence"],
        certificate=extras["certificate"],
        comments=comments,
    )


def parse_importer(value: object, field: str = "importer") -> Importer:
    if value is None:
        return Importer()
    data = as_mapping(value, field)
    c = Checker(field)
    reject_unknown(data, IMPORTER_FIELDS, c)
    tax_id = c.text(data, "tax_id", required=False, max_len=35)
    ioss = c.text(data, "ioss", required=False, max_len=12)
    if ioss is not None and not IOSS.fullmatch(ioss):
        c.fail("ioss", "ioss_format", ioss, "IOSS number: IM followed by 10 digits")
    eori = c.text(data, "eori", required=False, max_len=17)
    if eori is not None and not EORI.fullmatch(eori):
        c.fail("eori", "eori_format", eori, "EORI: 2 letters and up to 15 letters or digits")
    c.done()
    return Importer(tax_id, ioss, eori)


def required_form(
    service: Service, contents: Contents, rules: CustomsRules | None = None
) -> str | None:
    """Which customs form the item needs: "CN22", "CN23" or None (documents by letter post).

    A CN23 also when the goods lines are more than a CN22 holds (``cn22_max_lines`` in
    customs.json: 3), so no line is ever declared only in electronic data.
    """
    rules = rules or customs_rules()
    if service.is_parcel:
        return "CN23"
    if not contents.has_goods:
        return None
    if len(contents.lines) > rules.cn22_max_lines:
        return "CN23"  # more lines than a CN22 holds: every line goes on paper, on a CN23
    currency = contents.currency or rules.currency
    converted = rules.to_threshold_currency(contents.total_value_minor, currency)
    if converted is None or converted > rules.cn22_max_value_minor:
        return "CN23"
    return "CN22"
