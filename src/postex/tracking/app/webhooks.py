"""Customer webhooks: subscriptions, signed deliveries, retries with backoff.

A subscription sends the customer's own items' tracking events (all, or chosen statuses)
and, if asked, service advisories. Deliveries are created by the projection from the log,
so a rebuild or restore recreates them exactly, and each attempt's outcome is an event, so
nothing delivered is sent again after a restore.

Several workers (threads or processes) may deliver from one database: a worker first
claims due deliveries with a lease (``claimed_by``, ``lease_until``, a conditional UPDATE,
``FOR UPDATE SKIP LOCKED`` on PostgreSQL), sends only what it claimed, and records the
outcomes and drops its claims in one transaction. A lease that runs out (the worker was
killed) is taken over by the next worker; a worker never starts a send its lease could
not cover (see ``LEASE_S`` and ``SEND_BUDGET_S``).

Signature: ``Postex-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
with the subscription's secret (shown once at creation, stored sealed under the
customer's data key).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from postex.accounts.app.partners import office_name
from postex.eventlog.chain import format_time
from postex.eventlog.context import Context, new_id
from postex.incidents.events import AdvisoryClosed, AdvisoryPublished, AdvisoryUpdated
from postex.items.app.preadvice import refusing_erased
from postex.kernel.errors import KeyUnavailableError, NotFoundError, ValidationError
from postex.kernel.event_codes import Status, event_codes
from postex.tracking.events import (
    WebhookDeleted,
    WebhookDeliveryAttempted,
    WebhookRedeliveryRequested,
    WebhookSubscribed,
    WebhookTestRequested,
)

log = logging.getLogger("postex.webhooks")
SIGNATURE_HEADER = "Postex-Signature"
MAX_ATTEMPTS = 15  # over about 38 hours, see backoff()
FAILING_AFTER = 5  # consecutive failed attempts mark a subscription failing
MAX_SUBSCRIPTIONS = 20
FIRST_DELAY_S = 60
MAX_DELAY_S = 6 * 3600
LEASE_S = 300  # a worker's claim on the deliveries of one round
SEND_BUDGET_S = 30  # longest one POST may take (the sender times out sooner); no send starts
# unless this much of the lease is left, so a lease never runs out during a send


@dataclass(frozen=True)
class SubscriptionRecord:
    id: str
    customer_id: str
    url: str
    statuses: tuple[str, ...] | None  # None: every status
    advisories: bool
    state: str  # active | failing | deleted
    consecutive_failures: int
    created_at: str
    sealed: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "statuses": list(self.statuses) if self.statuses is not None else None,
            "advisories": self.advisories,
            "state": self.state,
            "consecutive_failures": self.consecutive_failures,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class DeliveryRecord:
    id: str
    subscription_id: str
    customer_id: str
    item_id: str | None
    event_type: str
    payload: str
    state: str  # pending | delivered | failed
    attempts: int
    round_start: int
    next_attempt_at: str
    last_status: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_type": self.event_type,
            "item_id": self.item_id,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at if self.state == "pending" else None,
            "last_status": self.last_status,
            "last_error": coarse_error(self.last_status, self.last_error),
            "last_outcome": outcome_text(self.last_status, self.last_error)
            if self.attempts
            else None,
            "created_at": self.created_at,
            "delivered_at": self.delivered_at,
        }


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt at a delivery: when, the HTTP status or a coarse error, how long.

    Never the response body or headers (they may hold the receiver's data or secrets).
    The customer sees coarse outcomes only (``coarse_error``, ``outcome_text``) and a
    duration only for a delivered attempt: an exception class or the time a failure took
    would tell a closed port from a filtered one (a port-scan oracle).
    """

    attempt: int
    at: str
    status: int | None
    error: str | None  # see ERRORS; older logs may hold an exception class
    duration_ms: int | None  # None for attempts recorded before durations were measured

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "at": self.at,
            "status": self.status,
            "error": coarse_error(self.status, self.error),
            "outcome": outcome_text(self.status, self.error),
            "duration_ms": self.duration_ms if self.delivered else None,
        }


# The errors a customer may see; anything else recorded (an exception class from an older
# log) is shown as ``unreachable``.
ERRORS = {
    "http_status": "failed: the endpoint answered {status_class}",
    "unreachable": "failed: could not connect",
    "private_target": "failed: the address is private, loopback or link-local",
    "key_unavailable": "failed: the account's signing key is no longer available",
}


def coarse_error(status: int | None, error: str | None) -> str | None:
    """The error code a customer sees: one of ``ERRORS`` or None."""
    if error is None:
        return None if status is None or 200 <= status < 300 else "http_status"
    return error if error in ERRORS else "unreachable"


def outcome_text(status: int | None, error: str | None) -> str:
    """``delivered`` or ``failed: …`` in words, as coarse as ``coarse_error``."""
    code = coarse_error(status, error)
    if code is None:
        return "delivered" if status is not None else "not attempted"
    if code == "http_status" and status is None:
        return ERRORS["unreachable"]
    return ERRORS[code].format(status_class=f"{(status or 0) // 100}xx")


@dataclass(frozen=True)
class SendOutcome:
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendOutcome:
        """POST once; never raise for network or HTTP failures (report them instead)."""
        ...


class WebhookRepository(Protocol):
    def get(self, customer_id: str, subscription_id: str) -> SubscriptionRecord | None: ...

    def owned(self, customer_id: str) -> list[SubscriptionRecord]: ...

    def deliveries(
        self, customer_id: str, subscription_id: str, limit: int
    ) -> list[DeliveryRecord]: ...

    def delivery(self, customer_id: str, delivery_id: str) -> DeliveryRecord | None: ...

    def has_due(self, now: str) -> bool:
        """Whether any due delivery is free to claim (a read, so an idle worker writes nothing)."""
        ...

    def claim(
        self, now: str, lease_until: str, claimant: str, limit: int
    ) -> list[tuple[DeliveryRecord, SubscriptionRecord]]:
        """Lease up to ``limit`` due deliveries that no live lease holds (write transaction)."""
        ...

    def release(self, claimant: str, delivery_ids: Sequence[str]) -> None:
        """Drop ``claimant``'s leases on these deliveries (a lease taken over stays)."""
        ...

    def attempts(self, customer_id: str, delivery_id: str) -> list[AttemptRecord]: ...


@dataclass(frozen=True)
class CreatedSubscription:
    record: SubscriptionRecord
    secret: str  # shown once


# --- pure helpers ----------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempt: int) -> timedelta:
    """Wait after failed attempt ``attempt`` (1-based): 1 min doubling, at most 6 h.

    15 attempts span 1+2+4+…+256 min + 5 × 6 h ≈ 38.5 h.
    """
    return timedelta(seconds=min(FIRST_DELAY_S * 2 ** (attempt - 1), MAX_DELAY_S))


def aad(customer_id: str, subscription_id: str) -> str:
    return f"webhook|{customer_id}|{subscription_id}"


def delivery_id(subscription_id: str, source: str) -> str:
    """Deterministic: the projection derives it from the log, identically on rebuild."""
    return "whd_" + hashlib.sha256(f"{subscription_id}|{source}".encode()).hexdigest()[:20]


def tracking_payload(
    delivery: str, recorded_at: str, item_id: str, code: str, occurred_at: str,
    office: str | None, source: str,
) -> str:  # fmt: skip
    """The JSON body of a tracking-event delivery (no personal data, deterministic)."""
    info = event_codes().get(code)
    return json.dumps(
        {
            "id": delivery,
            "type": "item.tracking_event",
            "created_at": recorded_at,
            "data": {
                "item_id": item_id,
                "code": code,
                "description": info.description if info else code,
                "status": str(info.status) if info else "exception",
                "occurred_at": occurred_at,
                "office": office,
                "place": office_name(office),
                "source": source,
            },
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def advisory_payload(
    delivery: str, recorded_at: str, kind: str,
    advisory: AdvisoryPublished | AdvisoryUpdated | AdvisoryClosed,
) -> str:  # fmt: skip
    """The JSON body announcing an advisory (its public text and scope only)."""
    public: dict[str, Any] = {"advisory_id": advisory.advisory_id, "text": advisory.text}
    if isinstance(advisory, AdvisoryPublished):
        public |= {"scope": advisory.scope, "starts_at": advisory.starts_at}
    return json.dumps(
        {"id": delivery, "type": kind, "created_at": recorded_at, "data": public},
        sort_keys=True,
        separators=(",", ":"),
    )


TEST_TYPE = "webhook.test"


def payload_of_test(delivery: str, recorded_at: str, subscription_id: str) -> str:
    """The JSON body of a test delivery: no item, no personal data."""
    data = {"subscription_id": subscription_id,
            "message": "a test event from Postex: your endpoint is reached and can check "
                       "the signature"}  # fmt: skip
    return json.dumps(
        {"id": delivery, "type": TEST_TYPE, "created_at": recorded_at, "data": data},
        sort_keys=True,
        separators=(",", ":"),
    )


def wants(sub_statuses: Sequence[str] | None, code: str) -> bool:
    info = event_codes().get(code)
    return sub_statuses is None or (info is not None and str(info.status) in sub_statuses)


def check_url(url: object, allow_private: bool) -> str:
    """An http(s) URL with a host; literal private, loopback or link-local hosts refused."""
    if not isinstance(url, str) or not 1 <= len(url) <= 2000:
        raise ValidationError.single("url", "type", url, "an http(s) URL up to 2000 characters")
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise ValidationError.single("url", "format", url, "not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError.single("url", "scheme", url, "only http:// and https:// URLs")
    if any(ch.isspace() or ord(ch) < 32 for ch in url) or "%" in host:
        raise ValidationError.single("url", "format", url, "no spaces or control characters")
    if not allow_private and is_private_host(host):
        raise ValidationError.single(
            "url", "private_target", url, "private, loopback and link-local targets are refused"
        )
    return url


def is_private_host(host: str) -> bool:
    """Whether ``host`` names this machine or a non-global address in any spelling a
    resolver or HTTP client accepts (``2130706433``, ``0x7f000001``, ``127.1``,
    ``0177.0.0.1``, ``[::ffff:127.0.0.1]``, a trailing dot)."""
    name = host.strip("[]").rstrip(".").lower()
    if name in ("localhost", "localhost.localdomain") or name.endswith(".localhost"):
        return True
    ip = host_address(name)
    return ip is not None and not is_global_address(ip)


def host_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a numeric host stands for, or None for a name.

    IPv4 is read as ``inet_aton`` reads it: one to four parts, each decimal, ``0x`` hex or
    ``0`` octal, the last part filling the remaining bytes.
    """
    name = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    parts = name.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
            values.append(int(part[2:] or "0", 16))
        elif re.fullmatch(r"0[0-7]*", part):
            values.append(int(part, 8))
        elif re.fullmatch(r"[1-9][0-9]*", part):
            values.append(int(part))
        else:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = last
    for i, v in enumerate(head):
        number += v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def is_global_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally reachable, also for IPv4 carried in IPv6 (mapped, 6to4, Teredo, NAT64)."""
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is None and ip in ipaddress.ip_network("64:ff9b::/96"):
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return is_global_address(inner)
    return True


def _statuses(value: object) -> list[str] | None:
    if value is None:
        return None
    valid = {str(s) for s in Status}
    if not isinstance(value, list) or not value or not all(v in valid for v in value):
        raise ValidationError.single(
            "statuses", "one_of", value, "null for all, or a list of: " + ", ".join(sorted(valid))
        )
    return sorted(set(value))


# --- use cases -------------------------------------------------------------------------
def subscribe(
    ctx: Context, customer_id: str, url: object, statuses: object = None,
    advisories: bool = False, allow_private: bool = False,
) -> CreatedSubscription:  # fmt: skip
    """Create a subscription; the returned secret is never shown again."""
    clean_url = check_url(url, allow_private)
    chosen = _statuses(statuses)
    sub_id = new_id("whk")
    secret = "whsec_" + secrets.token_urlsafe(32)
    # An erased customer's data key is gone: the secret cannot be sealed (403 customer_erased).
    with refusing_erased(ctx, customer_id), ctx.store.write(ctx.site) as uow:
        repo = uow.repo(WebhookRepository)
        if len(repo.owned(customer_id)) >= MAX_SUBSCRIPTIONS:
            raise ValidationError.single(
                "url", "too_many", MAX_SUBSCRIPTIONS, "delete a subscription first"
            )
        sealed = ctx.vault.seal(uow, customer_id, aad(customer_id, sub_id), {"secret": secret})
        uow.append(
            [
                WebhookSubscribed(
                    subscription_id=sub_id,
                    customer_id=customer_id,
                    url=clean_url,
                    statuses=chosen,
                    advisories=bool(advisories),
                    sealed=sealed,
                )
            ]
        )
        record = repo.get(customer_id, sub_id)
    assert record is not None
    return CreatedSubscription(record, secret)


def list_subscriptions(ctx: Context, customer_id: str) -> list[SubscriptionRecord]:
    with ctx.store.read() as uow:
        return uow.repo(WebhookRepository).owned(customer_id)


def get_subscription(ctx: Context, customer_id: str, subscription_id: str) -> SubscriptionRecord:
    with ctx.store.read() as uow:
        record = uow.repo(WebhookRepository).get(customer_id, subscription_id)
    if record is None:
        raise NotFoundError(f"no webhook {subscription_id}")
    return record


def unsubscribe(ctx: Context, customer_id: str, subscription_id: str) -> None:
    """Stop a subscription; its undelivered events are no longer attempted."""
    with ctx.store.write(ctx.site) as uow:
        if uow.repo(WebhookRepository).get(customer_id, subscription_id) is None:
            raise NotFoundError(f"no webhook {subscription_id}")
        uow.append([WebhookDeleted(subscription_id=subscription_id, customer_id=customer_id)])


def deliveries(
    ctx: Context, customer_id: str, subscription_id: str, limit: int = 100
) -> list[DeliveryRecord]:
    """The delivery log of one of the customer's subscriptions, newest first."""
    with ctx.store.read() as uow:
        repo = uow.repo(WebhookRepository)
        if repo.get(customer_id, subscription_id) is None:
            raise NotFoundError(f"no webhook {subscription_id}")
        return repo.deliveries(customer_id, subscription_id, max(1, min(limit, 1000)))


def delivery_history(
    ctx: Context, customer_id: str, subscription_id: str, delivery: str
) -> tuple[DeliveryRecord, list[AttemptRecord]]:
    """One delivery of the customer's subscription and each of its attempts, oldest first."""
    with ctx.store.read() as uow:
        repo = uow.repo(WebhookRepository)
        found = repo.delivery(customer_id, delivery)
        if found is None or found.subscription_id != subscription_id:
            raise NotFoundError(f"no delivery {delivery}")
        return found, repo.attempts(customer_id, delivery)


def send_test(ctx: Context, customer_id: str, subscription_id: str) -> None:
    """Queue a test delivery to one of the customer's active subscriptions (signed and
    retried like any other); NotFoundError for anyone else's or a deleted one."""
    with ctx.store.write(ctx.site) as uow:
        found = uow.repo(WebhookRepository).get(customer_id, subscription_id)
        if found is None or found.state == "deleted":
            raise NotFoundError(f"no webhook {subscription_id}")
        uow.append([WebhookTestRequested(subscription_id, customer_id)])


def redeliver(
    ctx: Context, customer_id: str, subscription_id: str, delivery: str
) -> DeliveryRecord:
    """Queue a delivery again now, with a fresh budget of attempts."""
    with ctx.store.write(ctx.site) as uow:
        repo = uow.repo(WebhookRepository)
        found = repo.delivery(customer_id, delivery)
        if found is None or found.subscription_id != subscription_id:
            raise NotFoundError(f"no delivery {delivery}")
        uow.append(
            [
                WebhookRedeliveryRequested(
                    delivery_id=delivery, subscription_id=subscription_id, customer_id=customer_id
                )
            ]
        )
        again = repo.delivery(customer_id, delivery)
    assert again is not None
    return again


def worker_name() -> str:
    """This process's name in leases (host and pid), for operators reading the table."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def deliver_due(
    ctx: Context,
    sender: WebhookSender,
    limit: int = 100,
    now: datetime | None = None,
    worker: str | None = None,
) -> int:
    """Attempt the due deliveries this worker can claim; record each outcome. Returns attempts.

    Claims are taken in one short write transaction and the HTTP calls happen outside any
    transaction; the outcomes are appended and the claims dropped together, so two workers
    never send the same attempt. A target that cannot be reached (timeout, refused) is not
    tried again in the same round. A customer whose data key was erased cannot sign: the
    attempt fails with ``key_unavailable``.
    """
    moment = now or ctx.clock.now()
    lease_until = moment + timedelta(seconds=LEASE_S)
    claimant = f"{worker or worker_name()}/{secrets.token_hex(6)}"[-64:]
    with ctx.store.read() as uow:
        if not uow.repo(WebhookRepository).has_due(format_time(moment)):
            return 0
    with ctx.store.write(ctx.site) as uow:
        due = uow.repo(WebhookRepository).claim(
            format_time(moment), format_time(lease_until), claimant, limit
        )
        secrets_by_sub: dict[str, str | None] = {}
        for _, sub in due:
            if sub.id not in secrets_by_sub:
                try:
                    opened = ctx.vault.open(uow, sub.customer_id, aad(sub.customer_id, sub.id),
                                            sub.sealed)  # fmt: skip
                    secrets_by_sub[sub.id] = str(opened["secret"])
                except KeyUnavailableError:
                    secrets_by_sub[sub.id] = None
    if not due:
        return 0
    outcomes = []
    unreachable: set[str] = set()
    try:
        for d, sub in due:
            sent = now or ctx.clock.now()
            if sent + timedelta(seconds=SEND_BUDGET_S) > lease_until:
                break  # the lease could run out during the send: leave the rest to a new claim
            if sub.id in unreachable:
                continue  # not attempted: still due next round (a dead host costs one timeout)
            secret = secrets_by_sub[sub.id]
            started = time.monotonic()
            if secret is None:
                outcome = SendOutcome(None, "key_unavailable")
            else:
                body = d.payload.encode()
                headers = {
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(secret, int(sent.timestamp()), body),
                    "Postex-Delivery": d.id,
                    "Postex-Event": d.event_type,
                    "User-Agent": "Postex-Webhooks/1",
                }
                outcome = sender.post(sub.url, body, headers)
                if outcome.status is None:
                    unreachable.add(sub.id)
            elapsed_ms = int((time.monotonic() - started) * 1000)
            outcomes.append(_attempt_event(d, outcome, sent, elapsed_ms))
    finally:  # also when a send raised: what was sent is recorded, the rest released
        with ctx.store.write(ctx.site) as uow:
            uow.append(outcomes)
            uow.repo(WebhookRepository).release(claimant, [d.id for d, _ in due])
    return len(outcomes)


def _attempt_event(
    d: DeliveryRecord, o: SendOutcome, moment: datetime, ms: int
) -> WebhookDeliveryAttempted:
    attempt = d.attempts + 1
    in_round = attempt - d.round_start
    if o.ok:
        state, next_at = "delivered", None
    elif in_round >= MAX_ATTEMPTS:
        state, next_at = "failed", None
    else:
        state, next_at = "pending", format_time(moment + backoff(in_round))
    return WebhookDeliveryAttempted(
        delivery_id=d.id,
        subscription_id=d.subscription_id,
        attempt=attempt,
        at=format_time(moment),
        ok=o.ok,
        status=o.status,
        error=(o.error or "")[:200] or None,
        state=state,
        next_attempt_at=next_at,
        duration_ms=max(0, ms),
    )
