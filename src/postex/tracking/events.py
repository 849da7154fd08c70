"""Events of track and trace: partners' tracking events and customers' webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from postex.eventlog.catalogue import Event, doc, omit_none
from postex.eventlog.saw import SAW_DOC


@dataclass(frozen=True, slots=True)
class PartnerEventRecorded(Event):
    TYPE: ClassVar[str] = "tracking.partner_event.v1"
    item_id: str
    code: str = field(metadata=doc("UPU event code, e.g. EMC, EMD, EMI"))
    occurred_at: str = field(metadata=doc("local time at the office, with its offset"))
    occurred_utc: str = field(metadata=doc("the same moment in UTC"))
    office: str = field(metadata=doc("IMPC code of the reporting office"))
    reason: str | None
    next_office: str | None
    partner_id: str
    operators: list[str] | None = omit_none(
        "for an item not yet known here: the operators the partner speaks for, checked "
        "when the item appears"
    )
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return [self.item_id]


@dataclass(frozen=True, slots=True)
class WebhookSubscribed(Event):
    TYPE: ClassVar[str] = "webhook.subscribed.v1"
    subscription_id: str
    customer_id: str
    url: str
    statuses: list[str] | None = field(metadata=doc("event codes to send; None for all"))
    advisories: bool
    sealed: str = field(metadata=doc("the signing secret, sealed under the customer's key"))


@dataclass(frozen=True, slots=True)
class WebhookDeleted(Event):
    TYPE: ClassVar[str] = "webhook.deleted.v1"
    subscription_id: str
    customer_id: str


@dataclass(frozen=True, slots=True)
class WebhookDeliveryAttempted(Event):
    TYPE: ClassVar[str] = "webhook.delivery_attempted.v1"
    delivery_id: str
    subscription_id: str
    attempt: int
    at: str
    ok: bool
    status: int | None = field(metadata=doc("HTTP status, None when no answer came"))
    error: str | None = field(
        metadata=doc(
            "http_status, unreachable, private_target or key_unavailable (an exception class in"
            " older logs), at most 200 characters"
        )
    )
    state: str = field(metadata=doc("delivered, pending or failed"))
    next_attempt_at: str | None
    duration_ms: int | None = omit_none(
        "milliseconds the attempt took; absent in attempts recorded before it was measured"
    )


@dataclass(frozen=True, slots=True)
class WebhookRedeliveryRequested(Event):
    TYPE: ClassVar[str] = "webhook.redelivery_requested.v1"
    delivery_id: str
    subscription_id: str
    customer_id: str


@dataclass(frozen=True, slots=True)
class WebhookTestRequested(Event):
    TYPE: ClassVar[str] = "webhook.test_requested.v1"
    subscription_id: str
    customer_id: str


EVENTS: tuple[type[Event], ...] = (
    PartnerEventRecorded,
    WebhookSubscribed,
    WebhookDeleted,
    WebhookDeliveryAttempted,
    WebhookRedeliveryRequested,
    WebhookTestRequested,
)
