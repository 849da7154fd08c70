"""Tracking events sent by partners (EMSEVT-style), as JSON or as a flat file.

Each event is identified by ``item|code|time (UTC)|office``: the same event sent twice is
stored once. Events for items we do not know yet wait in a quarantine and attach when the
item is pre-advised. A batch is all-or-nothing unless the partner asks for ``partial``;
then good rows are stored and each bad row is reported with its line (or index) and every
rule it broke.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from postex.accounts.app.auth import Principal, Role, require_roles
from postex.accounts.app.partners import operators_of, routed_operator
from postex.eventlog.context import Context
from postex.items.domain.items import ItemState, transition
from postex.kernel import plausibility
from postex.kernel.dispatch_ids import is_impc_code
from postex.kernel.errors import FieldError, InvalidStateError, ValidationError
from postex.kernel.event_codes import Status, event_codes
from postex.kernel.ids import S10
from postex.tracking.events import PartnerEventRecorded

MAX_BATCH = 5000
# Quarantined events attach to an item appearing later with the tolerance they were stored
# under (the projection replays this decision on every rebuild, so it cannot change).
QUARANTINE_SKEW = timedelta(minutes=15)
MAX_AGE = timedelta(days=400)  # S10 ids are not reused within 12 months
PARTNER_LEGS = frozenset({"transit", "destination"})
EVENT_FIELDS = frozenset(
    {"item_id", "event_code", "occurred_at", "office", "reason_code", "next_office"}
)
_REASON = re.compile(r"[A-Z0-9]{1,3}")


def event_key(item_id: str, code: str, occurred_utc: str, office: str) -> str:
    """A partner event's identity: the same event sent twice is stored once."""
    return f"{item_id}|{code}|{occurred_utc}|{office}"


@dataclass(frozen=True)
class PartnerEventIn:
    """One well-formed event of a batch (its place in the batch kept for error reports)."""

    item_id: str
    code: str
    occurred_at: datetime
    office: str
    reason: str | None
    next_office: str | None
    line: int | None = None
    index: int | None = None
    occurred_utc: str = ""  # filled in by __post_init__

    def __post_init__(self) -> None:
        utc = self.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
        object.__setattr__(self, "occurred_utc", utc.replace("+00:00", "Z"))

    @property
    def key(self) -> str:
        return event_key(self.item_id, self.code, self.occurred_utc, self.office)


@dataclass(frozen=True)
class RowProblem:
    """A refused row: where it was and every rule it broke."""

    errors: tuple[FieldError, ...]
    line: int | None = None
    index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"errors": [e.to_dict() for e in self.errors]}
        if self.line is not None:
            out["line"] = self.line
        if self.index is not None:
            out["index"] = self.index
        return out


Row = PartnerEventIn | RowProblem
# Reads a flat file into rows (``line``, ``item_id``, ``event_code``, ``occurred_at``…) and
# row errors (``line``, ``errors``); raises ValidationError for a broken file.
FileReader = Callable[[bytes], Sequence[Any]]


@dataclass(frozen=True)
class ItemBrief:
    id: str
    customer_id: str
    destination: str
    service: str
    state: str
    created_at: str
    accepted_at: str | None = None  # our acceptance scan, if the item was accepted
    handed_over_at: str | None = None  # its despatch handed to the carrier, if it was


@dataclass(frozen=True)
class QuarantineRow:
    site: str
    seq: int
    item_id: str
    code: str
    occurred_at: str
    office: str | None
    partner_id: str
    received_at: str
    status: str  # waiting | attached | refused


class PartnerEventRepository(Protocol):
    def items_brief(self, item_ids: Sequence[str]) -> dict[str, ItemBrief]: ...

    def existing_keys(self, keys: Sequence[str]) -> set[str]: ...

    def quarantine(
        self, status: str | None, limit: int, partner_id: str | None = None
    ) -> list[QuarantineRow]:
        """Quarantined events, oldest first; only ``partner_id``'s when given."""
        ...


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    rejected: list[RowProblem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "rejected": [r.to_dict() for r in self.rejected],
        }


# --- parsing ---------------------------------------------------------------------------
def _aware(text: object) -> datetime | None:
    if not isinstance(text, str) or len(text) > 40:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.utcoffset() is not None else None


@lru_cache(maxsize=65_536)
def _s10_errors(text: str) -> tuple[FieldError, ...]:
    """S10 checks, cached: a batch usually carries several events per item."""
    try:
        S10.parse(text, field="item_id")
    except ValidationError as exc:
        return tuple(exc.errors)
    return ()


def _optional_text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _type_errors(raw: dict[str, Any]) -> list[FieldError]:
    """Optional fields must be text or null when present."""
    return [
        FieldError(name, "type", None, "text or null")
        for name in ("reason_code", "next_office")
        if raw.get(name) is not None and not isinstance(raw.get(name), str)
    ]


def check_row(raw: dict[str, Any], line: int | None = None, index: int | None = None) -> Row:
    """Validate one event's shape and values (not yet against items or time windows)."""
    errs: list[FieldError] = []
    unknown = sorted(str(k) for k in raw if k not in EVENT_FIELDS)
    if unknown:
        errs.append(FieldError(unknown[0], "unknown_field", None, "not an event field"))
    item_id = raw.get("item_id")
    if isinstance(item_id, str):
        errs.extend(_s10_errors(item_id))
    else:
        errs.append(FieldError("item_id", "type", None, "an S10 id is a 13-character string"))
    code = raw.get("event_code")
    info = event_codes().get(code) if isinstance(code, str) else None
    if info is None:
        errs.append(FieldError("event_code", "unknown_event_code", code, "not an EMSEVT code"))
    elif info.leg not in PARTNER_LEGS:
        errs.append(
            FieldError(
                "event_code", "origin_event", code, "origin events are recorded by our own sites"
            )
        )
    occurred = _aware(raw.get("occurred_at"))
    if occurred is None:
        errs.append(
            FieldError(
                "occurred_at", "timestamp", raw.get("occurred_at"), "ISO 8601 time with offset"
            )
        )
    office = raw.get("office")
    if not is_impc_code(office):
        errs.append(FieldError("office", "impc_format", office, "an IMPC code: 6 letters A–Z"))
    errs.extend(_type_errors(raw))
    reason = _optional_text(raw.get("reason_code"))
    if reason is not None and _REASON.fullmatch(reason) is None:
        errs.append(FieldError("reason_code", "reason_format", reason, "1–3 of A–Z, 0–9"))
    if reason is None and code == "EXX":
        errs.append(FieldError("reason_code", "required", None, "EXX needs a reason code"))
    next_office = _optional_text(raw.get("next_office"))
    if next_office is not None and not is_impc_code(next_office):
        errs.append(FieldError("next_office", "impc_format", next_office, "6 letters A–Z"))
    if errs or occurred is None:
        return _problem(errs, line, index)
    assert isinstance(item_id, str) and isinstance(code, str) and isinstance(office, str)
    return PartnerEventIn(
        item_id.replace(" ", ""), code, occurred, office, reason, next_office, line, index
    )


def _problem(errs: Sequence[FieldError], line: int | None, index: int | None) -> RowProblem:
    if line is not None:
        return RowProblem(tuple(e.on_line(line) for e in errs), line=line)
    return RowProblem(
        tuple(FieldError(e.at(f"events[{index}]").field, e.rule, e.value, e.message,
                         extra={"index": index}) for e in errs),
        index=index,
    )  # fmt: skip


def parse_json_batch(payload: object) -> list[Row]:
    """``{"events": [...]}`` (or a bare list) into rows; ValidationError for a bad shape."""
    events = payload.get("events") if isinstance(payload, dict) else payload
    if not isinstance(events, list):
        raise ValidationError.single(
            "events", "type", None, 'send {"events": [ … ]}, a list of event objects'
        )
    _check_size(len(events))
    rows: list[Row] = []
    for i, raw in enumerate(events):
        if not isinstance(raw, dict):
            rows.append(_problem([FieldError("", "type", None, "an event is an object")], None, i))
        else:
            rows.append(check_row(raw, index=i))
    return rows


def parse_file_batch(reader: FileReader, data: bytes) -> list[Row]:
    """A flat file through ``reader``; each row re-checked like a JSON event."""
    out: list[Row] = []
    parsed = reader(data)
    _check_size(len(parsed))
    for r in parsed:
        if hasattr(r, "errors"):
            out.append(RowProblem(tuple(r.errors), line=r.line))
            continue
        raw = {
            "item_id": r.item_id,
            "event_code": r.event_code,
            "occurred_at": r.occurred_at.isoformat(),
            "office": r.office,
            "reason_code": r.reason_code,
            "next_office": r.next_office,
        }
        out.append(check_row(raw, line=r.line))
    return out


def _check_size(n: int) -> None:
    if n > MAX_BATCH:
        raise ValidationError.single(
            "events", "batch_too_large", n, f"send at most {MAX_BATCH} events per batch"
        )
    if n == 0:
        raise ValidationError.single("events", "empty", 0, "the batch holds no events")


# --- ingest ----------------------------------------------------------------------------
def _reject(row: PartnerEventIn, field_: str, rule: str, value: object, msg: str) -> RowProblem:
    return _problem([FieldError(field_, rule, value, msg)], row.line, row.index)


def ingest_partner_events(
    ctx: Context, partner: Principal, rows: Sequence[Row], partial: bool = False
) -> IngestResult:
    """Store a partner's batch; raise ValidationError listing every bad row unless partial.

    Rules beyond the shape: not in the future beyond a small clock skew, not older than
    400 days, not before the item's previous physical event (pre-advice, acceptance,
    handover; kernel.plausibility states the tolerances), and only for items routed to an
    office of the partner's operator. Duplicates (within the batch or of stored events) are counted
    and skipped. Unknown items are accepted into the quarantine.
    """
    require_roles(partner, Role.PARTNER)
    operators = operators_of(partner.offices)
    now = ctx.clock.now()
    result = IngestResult()
    good: list[PartnerEventIn] = []
    for row in rows:
        if isinstance(row, RowProblem):
            result.rejected.append(row)
        elif plausibility.in_future(row.occurred_at, now):
            result.rejected.append(
                _reject(row, "occurred_at", "in_future", row.occurred_at.isoformat(),
                        f"the event time is more than {_minutes(plausibility.FUTURE_SKEW)}"
                        " minutes in the future")
            )  # fmt: skip
        elif row.occurred_at < now - MAX_AGE:
            result.rejected.append(
                _reject(row, "occurred_at", "too_old", row.occurred_at.isoformat(),
                        "the event is older than 400 days")
            )  # fmt: skip
        else:
            good.append(row)
    with ctx.store.write(ctx.site) as uow:
        repo = uow.repo(PartnerEventRepository)
        items = repo.items_brief(sorted({r.item_id for r in good}))
        checked: list[PartnerEventIn] = []
        for row in good:
            item = items.get(row.item_id)
            problem = _item_problem(row, item, operators)
            if problem is not None:
                result.rejected.append(problem)
            else:
                checked.append(row)
        if result.rejected and not partial:
            result.rejected.sort(key=lambda p: (p.line or 0, p.index or 0))
            raise ValidationError(
                [e for p in result.rejected for e in p.errors],
                f"{len(result.rejected)} of {len(rows)} events refused; nothing was stored"
                " (send partial=true to store the good ones)",
            )
        stored = repo.existing_keys(sorted({r.key for r in checked}))
        events = []
        for row in checked:
            if row.key in stored:
                result.duplicates += 1
                continue
            stored.add(row.key)
            known = row.item_id in items
            # An unknown item's event keeps the operators, checked when the item appears.
            events.append(_recorded(row, partner, None if known else sorted(operators)))
            result.quarantined += not known
        uow.append(events)
        result.accepted = len(events)
    result.rejected.sort(key=lambda p: (p.line or 0, p.index or 0))
    return result


def _item_problem(
    row: PartnerEventIn, item: ItemBrief | None, operators: frozenset[str]
) -> RowProblem | None:
    if item is None:
        return None
    if routed_operator(item.destination, item.service) not in operators:
        return _reject(row, "item_id", "not_routed_to_you", row.item_id,
                       "this item is not routed to your offices")  # fmt: skip
    tolerance = _minutes(plausibility.ORDER_TOLERANCE)
    for rule, previous, what in (
        ("before_handover", item.handed_over_at, "its handover to the carrier"),
        ("before_acceptance", item.accepted_at, "its acceptance at our office"),
        ("before_pre_advice", item.created_at, "the item's pre-advice"),
    ):
        if plausibility.before(row.occurred_at, previous):
            return _reject(row, "occurred_at", rule, row.occurred_at.isoformat(),
                           f"the event is more than {tolerance} minutes earlier than {what}",
                           )  # fmt: skip
    return None


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


@lru_cache(maxsize=65_536)
def _utc(recorded_at: str) -> datetime:
    return datetime.fromisoformat(recorded_at.replace("Z", "+00:00"))


def _recorded(
    row: PartnerEventIn, partner: Principal, operators: list[str] | None
) -> PartnerEventRecorded:
    return PartnerEventRecorded(
        item_id=row.item_id,
        code=row.code,
        occurred_at=row.occurred_at.isoformat(timespec="seconds"),
        occurred_utc=row.occurred_utc,
        office=row.office,
        reason=row.reason,
        next_office=row.next_office,
        partner_id=partner.subject,
        operators=operators,
    )


def may_attach(
    occurred_utc: str, operators: Sequence[str], destination: str, service: str,
    pre_advised_at: str,
) -> bool:  # fmt: skip
    """Whether a quarantined event may join an item that has now appeared: its partner
    speaks for the item's route and it is not earlier than the pre-advice (the same rules
    as for a known item, from the quarantine's stored columns only, so a rebuild decides
    alike)."""
    if _utc(occurred_utc) < _utc(pre_advised_at) - QUARANTINE_SKEW:
        return False
    return routed_operator(destination, service) in set(operators)


@lru_cache(maxsize=1024)
def state_after(current: str, code: str) -> str | None:
    """The item state a partner event moves the item to, or None if the machine refuses."""
    info = event_codes().get(code)
    if info is None:
        return None
    if info.status == Status.DELIVERED:
        target = ItemState.DELIVERED
    elif info.status == Status.RETURNED:
        target = ItemState.RETURNED
    else:
        target = ItemState.IN_TRANSIT
    try:
        return str(transition(current, target))
    except (ValueError, InvalidStateError):  # refused: record the event, keep the state
        return None


def quarantine(ctx: Context, principal: Principal, status: str | None = "waiting",
               limit: int = 500) -> list[QuarantineRow]:  # fmt: skip
    """Partner events waiting for their item (ops and admins only)."""
    require_roles(principal, Role.OPS, Role.ADMIN, Role.AUDITOR)
    if status not in (None, "waiting", "attached", "refused"):
        raise ValidationError.single(
            "status", "one_of", status, "status is waiting, attached or refused"
        )
    with ctx.store.read() as uow:
        return uow.repo(PartnerEventRepository).quarantine(status, max(1, min(limit, 5000)))


def own_quarantine(ctx: Context, principal: Principal, status: str | None = "waiting",
                   limit: int = 500) -> list[QuarantineRow]:  # fmt: skip
    """The calling partner's own quarantined events (never another partner's)."""
    require_roles(principal, Role.PARTNER)
    if status not in (None, "waiting", "attached", "refused"):
        raise ValidationError.single(
            "status", "one_of", status, "status is waiting, attached or refused"
        )
    with ctx.store.read() as uow:
        return uow.repo(PartnerEventRepository).quarantine(
            status, max(1, min(limit, 5000)), partner_id=principal.subject
        )
