"""Request and response bodies of the customer API (items, manifests), with examples.

Requests forbid unknown fields and take JSON types strictly (``"5"`` is not a number).
The maximum lengths here are the domain's (postex.items.domain.items, addresses, customs); the
domain then checks what a schema cannot: countries, currencies, postcodes, service limits,
weights adding up, vague descriptions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal[
    "gift", "documents", "commercial_sample", "returned_goods", "sale_of_goods", "other"
]
ItemStateName = Literal[
    "pre_advised", "accepted", "in_receptacle", "despatched", "in_transit", "delivered",
    "returned", "cancelled", "held",
]  # fmt: skip
Country = Annotated[str, Field(min_length=2, max_length=2, examples=["US"])]
AddressLine = Annotated[str, Field(min_length=1, max_length=80)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AddressIn(_In):
    name: str = Field(min_length=1, max_length=100, examples=["Bartholomew Quincey"])
    company: str | None = Field(None, max_length=100, examples=["Quincey Imports LLC"])
    address_lines: list[AddressLine] = Field(
        min_length=1, max_length=3, examples=[["2200 Juniper Boulevard", "Apt 7"]]
    )
    city: str = Field(min_length=1, max_length=60, examples=["New York"])
    region: str | None = Field(None, max_length=60, examples=["NY"])
    postcode: str | None = Field(None, max_length=20, examples=["10001"])
    country: Country
    phone: str | None = Field(None, max_length=30, examples=["+1 212 555 0100"])
    email: str | None = Field(None, max_length=254, examples=["bart.quincey@example.com"])


class DimensionsIn(_In):
    length: int = Field(ge=1, le=3000, description="millimetres")
    width: int = Field(ge=1, le=3000, description="millimetres")
    height: int = Field(ge=1, le=3000, description="millimetres")


class GoodsLineIn(_In):
    description: str = Field(min_length=3, max_length=100, examples=["Cotton T-shirt"])
    quantity: int = Field(ge=1, le=99_999, examples=[2])
    net_weight_g: int = Field(ge=1, le=1_000_000, examples=[400])
    value_minor: int = Field(
        ge=1, le=10**12, description="value of the whole line in minor units", examples=[2500]
    )
    currency: str = Field(min_length=3, max_length=3, examples=["GBP"])
    hs_code: str = Field(pattern=r"^[0-9]{6,10}$", examples=["610910"])
    origin_country: Country


class ContentsIn(_In):
    category: Category
    lines: list[GoodsLineIn] = Field(default_factory=list, max_length=99)
    invoice_number: str | None = Field(None, max_length=35, examples=["INV-77"])
    licence: str | None = Field(None, max_length=35)
    certificate: str | None = Field(None, max_length=35)
    comments: str | None = Field(None, max_length=200)
    explanation: str | None = Field(None, max_length=200)


class ImporterIn(_In):
    tax_id: str | None = Field(None, max_length=35)
    ioss: str | None = Field(None, max_length=12, examples=["IM1234567890"])
    eori: str | None = Field(None, max_length=17)


ITEM_EXAMPLE: dict[str, Any] = {
    "service": "tracked",
    "reference": "ORDER-1042",
    "sender": {
        "name": "Margaret Thistlewood", "company": "Thistle & Thread Ltd",
        "address_lines": ["14 Marigold Lane"], "city": "London", "postcode": "SW1A 1AA",
        "country": "GB", "phone": "+44 20 7946 0000", "email": "orders@thistle.example",
    },
    "addressee": {
        "name": "Bartholomew Quincey", "address_lines": ["2200 Juniper Boulevard", "Apt 7"],
        "city": "New York", "region": "NY", "postcode": "10001", "country": "US",
        "phone": "+1 212 555 0100", "email": "bart.quincey@example.com",
    },
    "weight_g": 850,
    "dimensions_mm": {"length": 300, "width": 200, "height": 100},
    "contents": {
        "category": "sale_of_goods",
        "lines": [{"description": "Cotton T-shirt", "quantity": 2, "net_weight_g": 400,
                   "value_minor": 2500, "currency": "GBP", "hs_code": "610910",
                   "origin_country": "GB"}],
        "invoice_number": "INV-77",
    },
    "importer": {"ioss": "IM1234567890"},
}  # fmt: skip


class ItemIn(_In):
    """One item as the customer pre-advises it."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [ITEM_EXAMPLE]}
    )
    service: str = Field(min_length=1, max_length=32, examples=["tracked"])
    reference: str | None = Field(None, max_length=35, examples=["ORDER-1042"])
    sender: AddressIn
    addressee: AddressIn
    weight_g: int = Field(ge=1, le=30_000, examples=[850])
    dimensions_mm: DimensionsIn | None = None
    contents: ContentsIn
    importer: ImporterIn | None = None


# --- responses ----------------------------------------------------------------------------
class ItemLinks(BaseModel):
    self: str = Field(examples=["/api/v1/items/LA100000003GB"])
    label: str = Field(examples=["/api/v1/items/LA100000003GB/label.pdf"])
    cn23: str | None = Field(examples=[None])
    events: str = Field(examples=["/api/v1/items/LA100000003GB/events"])
    tracking: str = Field(examples=["/api/v1/tracking/LA100000003GB"])


class ItemOut(BaseModel):
    id: str = Field(examples=["LA100000003GB"])
    state: ItemStateName
    service: str = Field(examples=["tracked"])
    destination: str = Field(examples=["US"])
    customs_form: Literal["CN22", "CN23"] | None = Field(examples=["CN22"])
    weight_g: int = Field(examples=[850])
    reference: str | None = Field(examples=["ORDER-1042"])
    created_at: str = Field(examples=["2026-11-23T23:10:04.123456Z"])
    updated_at: str = Field(examples=["2026-11-23T23:10:04.123456Z"])
    links: ItemLinks


class ItemDetail(ItemOut):
    """The owner's full view; the personal parts are null once the customer was erased."""

    personal_data_erased: bool = Field(examples=[False])
    sender: dict[str, Any] | None = Field(examples=[ITEM_EXAMPLE["sender"]])
    addressee: dict[str, Any] | None = Field(examples=[ITEM_EXAMPLE["addressee"]])
    contents: dict[str, Any] | None = Field(examples=[ITEM_EXAMPLE["contents"]])
    importer: dict[str, Any] | None = Field(examples=[ITEM_EXAMPLE["importer"]])


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null on the last page",
        examples=["WyIyMDI2LTExLTIzVDIzOjEwOjA0LjEyMzQ1NloiLCJMQTEwMDAwMDAwM0dCIl0"],
    )


class TimelineEvent(BaseModel):
    code: str = Field(examples=["EMA"])
    description: str = Field(examples=["Posting / collection"])
    place: str | None = Field(examples=["GBLALA"])
    time: str = Field(examples=["2026-11-23T23:10:04+00:00"])
    reason: str | None = Field(examples=[None])
    source: str = Field(examples=["site"])


class Timeline(BaseModel):
    id: str = Field(examples=["LA100000003GB"])
    events: list[TimelineEvent]


class ManifestItem(BaseModel):
    line: int = Field(description="CSV line or 1-based position in the JSON array")
    id: str = Field(examples=["LA100000003GB"])
    reference: str | None = Field(examples=["ORDER-1042"])
    service: str = Field(examples=["tracked"])
    customs_form: Literal["CN22", "CN23"] | None = Field(examples=["CN22"])


class ManifestOut(BaseModel):
    accepted: int = Field(examples=[2])
    rejected: int = Field(description="items not stored (partial=true only)", examples=[0])
    items: list[ManifestItem]
    errors: list[dict[str, Any]] = Field(
        description="every broken rule of the rejected items: line, field, rule, value, message"
    )


class Problem(BaseModel):
    """RFC 9457 problem details; validation problems list every broken rule in ``errors``."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    rule: str | None = None
    value: Any = None
    errors: list[dict[str, Any]] | None = None


PROBLEM_SCHEMA = Problem.model_json_schema()
EXAMPLES: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("The body is not parseable JSON", {
        "type": "https://postex.dev/problems/http-400", "title": "HTTP error", "status": 400,
        "detail": "There was an error parsing the body"}),
    401: ("Missing, unknown or revoked API key", {
        "type": "https://postex.dev/problems/unauthenticated", "title": "Authentication required",
        "status": 401, "detail": "missing or invalid credentials"}),
    403: ("A staff or partner token on a customer route", {
        "type": "https://postex.dev/problems/forbidden", "title": "Forbidden", "status": 403,
        "detail": "this route is for business customers' API keys", "rule": "kind"}),
    404: ("No such item for this customer (another customer's item looks exactly the same)", {
        "type": "https://postex.dev/problems/not-found", "title": "Not found", "status": 404,
        "detail": "no item LA100000003GB"}),
    409: ("Not allowed in the item's state, an export hold, or an Idempotency-Key reused", {
        "type": "https://postex.dev/problems/invalid-state",
        "title": "Not allowed in the current state", "status": 409,
        "detail": "item LA100000003GB is accepted; it cannot become cancelled",
        "rule": "illegal_transition"}),
    413: ("Request body over 32 MiB", {
        "type": "https://postex.dev/problems/payload-too-large",
        "title": "Request body too large", "status": 413,
        "detail": "the request body is over 33554432 bytes", "rule": "max_body_bytes"}),
    422: ("The request breaks rules; every broken rule is listed", {
        "type": "https://postex.dev/problems/validation-error",
        "title": "The request breaks a rule", "status": 422,
        "detail": "describe the goods precisely (e.g. 'cotton T-shirt', not 'gift' or 'goods')",
        "field": "contents.lines.0.description", "rule": "vague_description", "value": "gift",
        "errors": [{"field": "contents.lines.0.description", "rule": "vague_description",
                    "value": "gift", "message": "describe the goods precisely"}]}),
    429: ("Too many requests with this API key; see Retry-After", {
        "type": "https://postex.dev/problems/rate-limited", "title": "Too many requests",
        "status": 429, "detail": "rate limit of 100 requests/s exceeded", "retry_after": 1}),
    503: ("The node cannot seal or open customer data: its key-encryption key is missing "
          "(an operator must restore it; retry later)", {
        "type": "https://postex.dev/problems/key-error", "title": "Key unavailable",
        "status": 503, "detail": "correlation id 3b8f0c1e9d2a4c6b8e0f1a2b3c4d5e6f"}),
}  # fmt: skip


# Routes that store something for the caller (POST items, manifests) answer differently.
CREATING: dict[int, tuple[str, dict[str, dict[str, Any]]]] = {
    403: ("A staff or partner token on a customer route (rule kind), or an erased customer "
          "account (rule customer_erased: its data key is destroyed; do not retry)", {
        "kind": {"value": EXAMPLES[403][1]},
        "customer_erased": {"value": {
            "type": "https://postex.dev/problems/forbidden", "title": "Forbidden", "status": 403,
            "detail": "this customer account was erased: its data key is destroyed, so "
                      "nothing can be stored or answered for it; do not retry, contact the "
                      "operator",
            "rule": "customer_erased"}},
    }),
    409: ("An export hold covers the item (the problem quotes the advisory), the "
          "Idempotency-Key was used for another request, or the service's serial block is "
          "exhausted", {
        "export_held": {"value": {
            "type": "https://postex.dev/problems/export-held", "title": "Exports are on hold",
            "status": 409, "hold_id": "hold_3f9a0c1d2e4b5a6c7d8e",
            "advisory": "Flights to US suspended until further notice",
            "detail": "pre-advice refused: exports are on hold (hold_3f9a0c1d2e4b5a6c7d8e). "
                      "Flights to US suspended until further notice"}},
        "idempotency_key_reused": {"value": {
            "type": "https://postex.dev/problems/conflict", "title": "Conflict", "status": 409,
            "detail": "this Idempotency-Key was already used for a different request",
            "rule": "idempotency_key_reused", "field": "Idempotency-Key"}},
    }),
}  # fmt: skip


def problems(*codes: int, creating: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these problem statuses (application/problem+json).

    ``creating``: the route stores something for the caller (the 403 and 409 it can give).
    """
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        description, example = EXAMPLES[code]
        media: dict[str, Any] = {"schema": PROBLEM_SCHEMA, "example": example}
        if creating and code in CREATING:
            description, examples = CREATING[code]
            media = {"schema": PROBLEM_SCHEMA, "examples": examples}
        entry: dict[str, Any] = {
            "description": description,
            "content": {"application/problem+json": media},
        }
        if code == 429:
            entry["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
            }
        if code == 401:
            entry["headers"] = {
                "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}
            }
        out[code] = entry
    return out


def declare_everywhere(spec: dict[str, Any], code: int) -> dict[str, Any]:
    """Add the problem ``code`` to every operation of an OpenAPI document that lacks it.

    For conditions of the whole application, not of a route: the body size limit (413) is
    checked by middleware on every request, whatever its method or path.
    """
    entry = problems(code)[code]
    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            if isinstance(op, dict) and "responses" in op:
                op["responses"].setdefault(str(code), entry)
    return spec
