"""Items: the pre-advice a customer sends, and the state machine an item moves through.

``pre_advised → accepted → in_receptacle → despatched → in_transit → delivered | returned``;
``cancelled`` before acceptance; ``held`` from any live state until released back to the
state it was held in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from postex.items.domain.addresses import Address, parse_address
from postex.items.domain.customs import (
    Contents,
    Importer,
    parse_contents,
    parse_importer,
    required_form,
)
from postex.kernel.errors import InvalidStateError, ValidationError
from postex.kernel.reference import Service, services
from postex.kernel.validation import Checker, as_mapping, reject_unknown


class ItemState(StrEnum):
    PRE_ADVISED = "pre_advised"
    ACCEPTED = "accepted"
    IN_RECEPTACLE = "in_receptacle"
    DESPATCHED = "despatched"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    HELD = "held"


S = ItemState
TRANSITIONS: dict[ItemState, frozenset[ItemState]] = {
    S.PRE_ADVISED: frozenset({S.ACCEPTED, S.CANCELLED, S.HELD}),
    S.ACCEPTED: frozenset({S.IN_RECEPTACLE, S.HELD, S.RETURNED}),
    S.IN_RECEPTACLE: frozenset({S.ACCEPTED, S.DESPATCHED, S.HELD}),
    S.DESPATCHED: frozenset({S.IN_TRANSIT, S.HELD}),
    S.IN_TRANSIT: frozenset({S.IN_TRANSIT, S.DELIVERED, S.RETURNED}),
    S.HELD: frozenset(
        {S.PRE_ADVISED, S.ACCEPTED, S.IN_RECEPTACLE, S.DESPATCHED, S.CANCELLED, S.RETURNED}
    ),
    S.DELIVERED: frozenset(),
    S.RETURNED: frozenset(),
    S.CANCELLED: frozenset(),
}
TERMINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


def transition(current: ItemState | str, target: ItemState | str, item_id: str = "") -> ItemState:
    """Return ``target`` if the item may move there from ``current``; raise otherwise."""
    src, dst = ItemState(current), ItemState(target)
    if dst not in TRANSITIONS[src]:
        allowed = ", ".join(sorted(TRANSITIONS[src])) or "none (final state)"
        raise InvalidStateError(
            f"item {item_id} is {src}; it cannot become {dst} (allowed: {allowed})".replace(
                "item  ", "item "
            ),
            rule="illegal_transition",
            state=str(src),
            target=str(dst),
        )
    return dst


def release_target(held_from: ItemState | str) -> ItemState:
    """The state a held item returns to when its hold is released."""
    return transition(S.HELD, held_from)


ITEM_FIELDS = {
    "service",
    "reference",
    "sender",
    "addressee",
    "weight_g",
    "dimensions_mm",
    "contents",
    "importer",
}
DIMENSION_FIELDS = ("length", "width", "height")


@dataclass(frozen=True)
class Dimensions:
    length: int
    width: int
    height: int

    def to_dict(self) -> dict[str, int]:
        return {"length": self.length, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class PreAdvice:
    """A validated pre-advice: everything needed to issue an S10 id and a customs form."""

    service: Service
    sender: Address
    addressee: Address
    weight_g: int
    dimensions: Dimensions | None
    contents: Contents
    importer: Importer
    reference: str | None
    customs_form: str | None

    @property
    def destination(self) -> str:
        return self.addressee.country

    def personal(self) -> dict[str, Any]:
        """What is encrypted under the customer's data key before it reaches the log."""
        return {
            "sender": self.sender.to_dict(),
            "addressee": self.addressee.to_dict(),
            "contents": self.contents.to_dict(),
            "importer": self.importer.to_dict(),
            "reference": self.reference,
        }


def _dimensions(value: object, service: Service | None, c: Checker) -> Dimensions | None:
    if value is None:
        return None
    try:
        data = as_mapping(value, c.path("dimensions_mm"))
    except ValidationError as exc:
        c.errors.extend(exc.errors)
        return None
    dc = Checker(c.path("dimensions_mm"))
    reject_unknown(data, set(DIMENSION_FIELDS), dc)
    sizes = [dc.integer(data, f, minimum=1, maximum=3000) for f in DIMENSION_FIELDS]
    c.errors.extend(dc.errors)
    if dc.errors or None in sizes:
        return None
    length, width, height = (int(s) for s in sizes if s is not None)
    if service is not None:
        if max(length, width, height) > service.max_length_mm:
            c.fail(
                "dimensions_mm.length",
                "service_max_length",
                max(length, width, height),
                f"{service.code} items are at most {service.max_length_mm} mm long",
            )
        if length + width + height > service.max_sum_mm:
            c.fail(
                "dimensions_mm",
                "service_max_size",
                length + width + height,
                f"{service.code}: length + width + height at most {service.max_sum_mm} mm",
            )
    return Dimensions(length, width, height)


def parse_pre_advice(value: object, origin_country: str = "GB") -> PreAdvice:
    """Validate a customer's item; raise one ValidationError listing every broken rule."""
    data = as_mapping(value, "item")
    c = Checker()
    reject_unknown(data, ITEM_FIELDS, c)
    service = c.run(lambda: services().get(data.get("service")))
    reference = c.text(data, "reference", required=False, max_len=35)
    sender = c.run(lambda: parse_address(data.get("sender"), "sender"))
    addressee = c.run(lambda: parse_address(data.get("addressee"), "addressee"))
    if addressee is not None and addressee.country == origin_country:
        c.fail(
            "addressee.country",
            "not_export",
            addressee.country,
            f"Postex handles exports: the addressee must be outside {origin_country}",
        )
    max_weight = service.max_weight_g if service else 30_000
    weight = data.get("weight_g")
    if (
        service is not None
        and isinstance(weight, int)
        and not isinstance(weight, bool)
        and weight > max_weight
    ):
        c.fail(
            "weight_g",
            "service_max_weight",
            weight,
            f"{service.code} items weigh at most {max_weight} g",
        )
        weight_g = None
    else:
        weight_g = c.integer(data, "weight_g", minimum=1, maximum=max_weight)
    dims = _dimensions(data.get("dimensions_mm"), service, c)
    contents = c.run(lambda: parse_contents(data.get("contents"), "contents"))
    importer = c.run(lambda: parse_importer(data.get("importer"), "importer"))
    if contents is not None and weight_g is not None and contents.total_net_weight_g > weight_g:
        c.fail(
            "contents.lines",
            "lines_exceed_item_weight",
            contents.total_net_weight_g,
            f"goods lines weigh {contents.total_net_weight_g} g, more than the item's {weight_g} g",
        )
    c.done()
    assert service and sender and addressee and weight_g and contents and importer
    return PreAdvice(
        service=service,
        sender=sender,
        addressee=addressee,
        weight_g=weight_g,
        dimensions=dims,
        contents=contents,
        importer=importer,
        reference=reference,
        customs_form=required_form(service, contents),
    )
