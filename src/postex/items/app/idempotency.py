"""Idempotency keys for creating requests: a retried POST gets the first answer again.

The first successful answer to ``(customer, Idempotency-Key)`` is recorded as an event in
the same transaction as the items it created, so a crash can never leave items without
their record or a record without its items. The answer is sealed under the customer's
data key (it may echo references and rejected values); the key itself is stored only as a
SHA-256. Same key with a different request is a conflict, never a second set of items.

Answers are kept for a retention period (``idempotency_retention_hours``, 24 h by default):
an answer older than that no longer counts, so the key may be used again for a new
request. The background worker removes expired answers from the projection in bounded
batches, each batch recorded as an event so that ``rebuild`` arrives at the same table.
The sealed answers stay in the log, unreadable once the customer is erased.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from postex.eventlog.chain import format_time
from postex.eventlog.context import Context
from postex.eventlog.ports import UnitOfWork
from postex.items.app.preadvice import refusing_erased
from postex.items.events import (
    IdempotencyClaimReleased,
    IdempotencyKeyClaimed,
    IdempotentAnswerRecorded,
    IdempotentAnswersExpired,
    IdempotentPlainAnswerRecorded,
)
from postex.kernel.errors import ConflictError, ValidationError

PENDING = 0  # the status of a claimed key whose answer is not recorded yet
DEFAULT_RETENTION = timedelta(hours=24)
PURGE_BATCH = 500
MAX_KEY_LENGTH = 255
KEY_SHAPE = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as HTTP header values allow


@dataclass(frozen=True)
class StoredAnswer:
    request_sha256: str
    status: int
    sealed: str
    created_at: str


class IdempotencyRepository(Protocol):
    def get(self, customer_id: str, key_sha256: str) -> StoredAnswer | None:
        """The answer recorded for this customer's key (the query filters by both)."""
        ...

    def expired(self, before: str, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` (customer id, key digest) pairs answered before ``before``, oldest
        first. Housekeeping only: it returns digests, never an answer."""
        ...


@dataclass(frozen=True)
class Idempotency:
    """A request's idempotency key (as a digest) and the digest of what it asked for."""

    key_sha256: str
    request_sha256: str
    retention: timedelta = DEFAULT_RETENTION


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]
    replayed: bool = False


class AlreadyAnswered(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside a transaction when a concurrent request with the key won the race."""

    def __init__(self, answer: StoredAnswer) -> None:
        super().__init__("already answered")
        self.answer = answer


def idempotency(
    key: str | None, *request_parts: bytes, retention: timedelta = DEFAULT_RETENTION
) -> Idempotency | None:
    """Digest the header and the request; ValidationError for a malformed key."""
    if key is None:
        return None
    if not KEY_SHAPE.fullmatch(key):
        raise ValidationError.single(
            "Idempotency-Key",
            "idempotency_key_format",
            key,
            f"1 to {MAX_KEY_LENGTH} visible ASCII characters, e.g. a UUID",
        )
    h = hashlib.sha256()
    for part in request_parts:
        h.update(len(part).to_bytes(8, "big") + part)
    return Idempotency(hashlib.sha256(key.encode()).hexdigest(), h.hexdigest(), retention)


def _aad(customer_id: str, key_sha256: str) -> str:
    return f"idempotency|{customer_id}|{key_sha256}"


def _current(ctx: Context, answer: StoredAnswer | None, idem: Idempotency) -> StoredAnswer | None:
    """The answer unless it is older than the retention (then the key is free again)."""
    if answer is None or answer.created_at < format_time(ctx.clock.now() - idem.retention):
        return None
    return answer


def _check(answer: StoredAnswer, idem: Idempotency) -> None:
    if answer.request_sha256 != idem.request_sha256:
        raise ConflictError(
            "this Idempotency-Key was already used for a different request",
            rule="idempotency_key_reused",
            field="Idempotency-Key",
        )


def find(ctx: Context, customer_id: str, idem: Idempotency | None) -> Replay | None:
    """The first answer to this key, or None; ConflictError if the request differs.

    ForbiddenError (``customer_erased``) when the customer was erased: the answer is sealed
    under the destroyed key.
    """
    if idem is None:
        return None
    with refusing_erased(ctx, customer_id), ctx.store.read() as uow:
        found = uow.repo(IdempotencyRepository).get(customer_id, idem.key_sha256)
        answer = _current(ctx, found, idem)
        if answer is None:
            return None
        _check(answer, idem)
        return open_answer(ctx, uow, customer_id, idem, answer)


def open_answer(
    ctx: Context, uow: UnitOfWork, customer_id: str, idem: Idempotency, answer: StoredAnswer
) -> Replay:
    body = ctx.vault.open(uow, customer_id, _aad(customer_id, idem.key_sha256), answer.sealed)
    return Replay(answer.status, body["response"])


def guard(ctx: Context, uow: UnitOfWork, customer_id: str, idem: Idempotency) -> None:
    """Inside the write transaction: stop if a concurrent request recorded this key first."""
    found = uow.repo(IdempotencyRepository).get(customer_id, idem.key_sha256)
    answer = _current(ctx, found, idem)
    if answer is not None:
        _check(answer, idem)
        raise AlreadyAnswered(answer)


def answer_event(
    ctx: Context,
    uow: UnitOfWork,
    customer_id: str,
    idem: Idempotency,
    status: int,
    response: dict[str, Any],
) -> IdempotentAnswerRecorded:
    """The event that records ``response`` as the answer to this key (append it)."""
    sealed = ctx.vault.seal(
        uow, customer_id, _aad(customer_id, idem.key_sha256), {"response": response}
    )
    return IdempotentAnswerRecorded(
        customer_id=customer_id,
        key_sha256=idem.key_sha256,
        request_sha256=idem.request_sha256,
        status=status,
        sealed=sealed,
    )


def purge_expired(
    ctx: Context, retention: timedelta = DEFAULT_RETENTION, limit: int = PURGE_BATCH
) -> int:
    """Forget up to ``limit`` answers older than ``retention``; returns how many.

    Run by the background worker. A batch is one event listing the key digests and the
    cut-off, so a rebuild removes exactly the same rows. Nothing is written when nothing
    has expired (checked first without the write lock).
    """
    cutoff = format_time(ctx.clock.now() - retention)
    with ctx.store.read() as uow:
        if not uow.repo(IdempotencyRepository).expired(cutoff, 1):
            return 0
    with ctx.store.write(ctx.site) as uow:
        keys = uow.repo(IdempotencyRepository).expired(cutoff, limit)
        if keys:
            uow.append([IdempotentAnswersExpired(before=cutoff, keys=[list(k) for k in keys])])
    return len(keys)


def expiry_chore(ctx: Context, retention_hours: int) -> Callable[[], int]:
    """The background worker's chore: one bounded purge per call (0 when none is left)."""
    retention = timedelta(hours=retention_hours)
    return lambda: purge_expired(ctx, retention)


# --- staff requests ------------------------------------------------------------------------
# Site operations (acceptance, receptacles, despatches) live in use cases that open their
# own transactions, so the answer cannot be recorded in the same one. Instead the key is
# claimed first (one event, under the write lock: of two racing retries one claims, the
# other gets 409), the operation runs, and then its answer is recorded or, if the operation
# failed, the claim released so the corrected request can use the key. A crash between the
# operation and its answer leaves the claim pending: retries get 409
# ``idempotency_key_in_progress`` until the retention passes, never a second operation.
# Staff answers hold ids, states and weights, nothing personal, so they are stored as JSON.


def staff_scope(user_id: str) -> str:
    """The scope of a staff user's keys (kept apart from customers' by the prefix)."""
    return f"staff:{user_id}"


def _in_progress() -> ConflictError:
    return ConflictError(
        "a request with this Idempotency-Key is in progress, or was interrupted; check the "
        "outcome (e.g. list the site's receptacles) and use a new key",
        rule="idempotency_key_in_progress",
        field="Idempotency-Key",
    )


def _plain(answer: StoredAnswer, idem: Idempotency) -> Replay:
    _check(answer, idem)
    if answer.status == PENDING:
        raise _in_progress()
    body = json.loads(answer.sealed)
    return Replay(answer.status, body)


def claim(ctx: Context, scope: str, idem: Idempotency) -> Replay | None:
    """The first answer to this key, or None once the key is claimed for this request."""
    with ctx.store.read() as uow:
        found = _current(ctx, uow.repo(IdempotencyRepository).get(scope, idem.key_sha256), idem)
    if found is not None:
        return _plain(found, idem)
    with ctx.store.write(ctx.site) as uow:
        found = _current(ctx, uow.repo(IdempotencyRepository).get(scope, idem.key_sha256), idem)
        if found is not None:
            return _plain(found, idem)
        uow.append([IdempotencyKeyClaimed(scope, idem.key_sha256, idem.request_sha256)])
    return None


def answer_claim(
    ctx: Context, scope: str, idem: Idempotency, status: int, body: dict[str, Any]
) -> None:
    """Record the answer to a claimed key (after the operation succeeded)."""
    with ctx.store.write(ctx.site) as uow:
        uow.append(
            [
                IdempotentPlainAnswerRecorded(
                    scope=scope,
                    key_sha256=idem.key_sha256,
                    request_sha256=idem.request_sha256,
                    status=status,
                    body=body,
                )
            ]
        )


def release_claim(ctx: Context, scope: str, idem: Idempotency) -> None:
    """Free a claimed key whose operation failed (only answers are kept)."""
    with ctx.store.write(ctx.site) as uow:
        uow.append([IdempotencyClaimReleased(scope, idem.key_sha256)])


def run_once(
    ctx: Context,
    scope: str,
    idem: Idempotency | None,
    operation: Callable[[], dict[str, Any]],
    status: int = 201,
) -> Replay:
    """Run ``operation`` at most once per key: its JSON answer, or the first one replayed
    (``replayed`` set). ConflictError for a key used for another request or still pending.
    """
    if idem is None:
        return Replay(status, operation())
    first = claim(ctx, scope, idem)
    if first is not None:
        return Replay(first.status, first.body, replayed=True)
    try:
        body = operation()
    except BaseException:
        with suppress(Exception):  # if even this fails, the claim stays pending: still safe
            release_claim(ctx, scope, idem)
        raise
    answer_claim(ctx, scope, idem, status, body)
    return Replay(status, body)
