"""Events of items: pre-advice, cancellation, reference index and idempotent answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from postex.eventlog.catalogue import Event, doc, omit_none
from postex.eventlog.saw import SAW_DOC


@dataclass(frozen=True, slots=True)
class ItemPreAdvised(Event):
    TYPE: ClassVar[str] = "item.pre_advised.v1"
    item_id: str = field(metadata=doc("S10 id"))
    customer_id: str
    origin_site: str = field(metadata=doc("the node that issued the id"))
    service: str = field(metadata=doc("service code (services.json)"))
    destination: str = field(metadata=doc("ISO 3166-1 alpha-2"))
    weight_g: int = field(metadata=doc("declared weight, grams"))
    customs_form: str | None = field(metadata=doc("CN22, CN23 or None"))
    has_goods: bool
    sealed: str = field(
        metadata=doc("AES-256-GCM token under the customer's data key: parties and contents")
    )
    dimensions_mm: dict[str, int] | None = omit_none("length, width, height in millimetres")


@dataclass(frozen=True, slots=True)
class ItemCancelled(Event):
    TYPE: ClassVar[str] = "item.cancelled.v1"
    item_id: str
    customer_id: str
    actor: str = field(metadata=doc("the API key id that cancelled"))
    saw: dict[str, list[Any]] | None = omit_none(SAW_DOC)

    def changed_items(self) -> list[str]:
        return [self.item_id]


@dataclass(frozen=True, slots=True)
class ItemReferencesIndexed(Event):
    TYPE: ClassVar[str] = "item.references_indexed.v1"
    customer_id: str
    entries: list[list[str]] = field(
        metadata=doc("[item id, keyed blind index of the customer's reference] pairs")
    )


@dataclass(frozen=True, slots=True)
class IdempotentAnswerRecorded(Event):
    TYPE: ClassVar[str] = "idempotency.answer_recorded.v1"
    customer_id: str
    key_sha256: str
    request_sha256: str
    status: int = field(metadata=doc("HTTP status of the first answer"))
    sealed: str = field(metadata=doc("the answer, sealed under the customer's data key"))


@dataclass(frozen=True, slots=True)
class IdempotentAnswersExpired(Event):
    TYPE: ClassVar[str] = "idempotency.answers_expired.v1"
    before: str = field(metadata=doc("answers recorded before this time (UTC) expired"))
    keys: list[list[str]] = field(metadata=doc("[customer or scope, key SHA-256] pairs"))


@dataclass(frozen=True, slots=True)
class IdempotencyKeyClaimed(Event):
    TYPE: ClassVar[str] = "idempotency.key_claimed.v1"
    scope: str = field(metadata=doc("the staff caller's scope"))
    key_sha256: str
    request_sha256: str


@dataclass(frozen=True, slots=True)
class IdempotentPlainAnswerRecorded(Event):
    TYPE: ClassVar[str] = "idempotency.plain_answer_recorded.v1"
    scope: str
    key_sha256: str
    request_sha256: str
    status: int
    body: Any = field(metadata=doc("the answer's JSON (site operations hold no personal data)"))


@dataclass(frozen=True, slots=True)
class IdempotencyClaimReleased(Event):
    TYPE: ClassVar[str] = "idempotency.claim_released.v1"
    scope: str
    key_sha256: str


EVENTS: tuple[type[Event], ...] = (
    ItemPreAdvised,
    ItemCancelled,
    ItemReferencesIndexed,
    IdempotentAnswerRecorded,
    IdempotentAnswersExpired,
    IdempotencyKeyClaimed,
    IdempotentPlainAnswerRecorded,
    IdempotencyClaimReleased,
)
