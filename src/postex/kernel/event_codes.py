"""UPU tracking event codes (EMSEVT) and the normalised statuses customers understand.

Reference data (tracking_events.json) shared by items (timelines) and tracking (partners,
webhooks, public pages).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from postex.kernel.errors import ValidationError
from postex.kernel.reference import read_data_file


class Status(StrEnum):
    PRE_ADVISED = "pre_advised"
    ACCEPTED = "accepted"
    IN_TRANSIT = "in_transit"
    HELD_BY_CUSTOMS = "held_by_customs"
    ARRIVED_IN_DESTINATION = "arrived_in_destination"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_ATTEMPTED = "delivery_attempted"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    EXCEPTION = "exception"


@dataclass(frozen=True)
class EventCode:
    code: str
    description: str
    leg: str
    final: bool
    status: Status


@cache
def event_codes() -> dict[str, EventCode]:
    raw = read_data_file("tracking_events.json")
    return {
        e["code"]: EventCode(e["code"], e["description"], e["leg"], e["final"], Status(e["status"]))
        for e in raw["events"]
    }


def event_code(code: object, field: str = "event_code") -> EventCode:
    codes = event_codes()
    if isinstance(code, str) and code in codes:
        return codes[code]
    raise ValidationError.single(field, "unknown_event_code", code, "not a UPU EMSEVT event code")
