"""Signed control messages: status reports, replay requests and fetch requests.

A control message is JSON ``{"v": 1, "kind", "site", "at", "nonce", "body"}`` signed (the
:data:`~postex.network.app.signatures.SIGNATURE_HEADER` headers) by the sender's Ed25519
key: a site signs with its checkpoint key, the hub with its own (which sites trust under
the name ``HUB``). The signed text binds kind, claimed sender, subject, time, nonce and the
payload's SHA-256 (see docs/log-format.md). A receiver acts on one only after
:class:`ControlGate` has checked the signature with a key trusted *for the claimed sender*,
that the sender may send this kind on this subject, that it is fresh (``at`` within
:data:`FRESH_SECONDS` of the receiver's clock) and that its nonce is new; anything else is
ignored and counted by reason. :class:`ReplayLimiter` bounds what a valid replay request
can cost a site.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from postex.eventlog.chain import format_time
from postex.eventlog.checkpoints import Signer, ed25519_valid
from postex.network.app.signatures import KEY_ID_HEADER, SIGNATURE_HEADER, MessageSignature

CONTROL_VERSION = 1
FRESH_SECONDS = 300.0  # a control message older (or newer) than this is stale
HUB_NAME = "HUB"  # the name sites trust the hub's key under (`replication trust --name HUB`)
MAX_NONCES = 100_000  # remembered nonces; the oldest are forgotten first beyond this
LOG_EVERY_S = 60.0  # refusals are logged as counts, at most this often per gate
log = logging.getLogger("postex.replication")


@dataclass(frozen=True)
class Control:
    """A control message that passed the gate."""

    kind: str
    site: str  # the sender, as its signature proves
    at: str
    nonce: str
    key_id: str
    body: Mapping[str, Any]


def control_text(
    kind: str, site: str, subject: str, at: str, nonce: str, payload: bytes, key_id: str
) -> bytes:
    """The signed form: UTF-8 lines joined by LF, no trailing newline."""
    return (
        f"postex-control-v1\nkind={kind}\nsite={site}\nsubject={subject}\nat={at}\n"
        f"nonce={nonce}\npayload_sha256={hashlib.sha256(payload).hexdigest()}\nkey_id={key_id}"
    ).encode()


def sign_control(
    signer: Signer, kind: str, site: str, subject: str, body: Mapping[str, Any], now: datetime
) -> tuple[bytes, dict[str, str]]:
    """The payload and signature headers of a control message from ``site`` on ``subject``."""
    at, nonce = format_time(now), secrets.token_hex(16)
    payload = json.dumps(
        {"v": CONTROL_VERSION, "kind": kind, "site": site, "at": at, "nonce": nonce,
         "body": dict(body)}
    ).encode()  # fmt: skip
    sig = signer.sign(control_text(kind, site, subject, at, nonce, payload, signer.key_id))
    return payload, {SIGNATURE_HEADER: base64.b64encode(sig).decode(), KEY_ID_HEADER: signer.key_id}


def _parse(data: bytes, kind: str) -> Control | None:
    """The claims of a control message of ``kind`` (key id not yet known), or None."""
    try:
        d = json.loads(data)
        fields = [str(d[k]) for k in ("kind", "site", "at", "nonce")]
        body, version = d["body"], d["v"]
    except (ValueError, KeyError, TypeError):
        return None
    if version != CONTROL_VERSION or fields[0] != kind or not isinstance(body, dict):
        return None
    return Control(fields[0], fields[1], fields[2], fields[3], "", body)


def _parse_time(at: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else None


@dataclass
class ControlGate:
    """Checks control messages of one kind before a receiver acts on them.

    ``site_keys`` maps a sender name to its trusted public keys by key id (the keys
    directory); ``may_send(sender, subject_site)`` says whether that sender may send this
    kind on that subject (a site only its own status; another trusted node a replay).
    ``refused`` counts what was ignored, by reason; nothing of a refused payload is kept.
    """

    kind: str
    site_keys: Callable[[], Mapping[str, Mapping[str, bytes]]]
    may_send: Callable[[str, str], bool]
    now: Callable[[], datetime]
    window_s: float = FRESH_SECONDS
    refused: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    last_refusal: str = ""
    _nonces: OrderedDict[str, float] = field(default_factory=OrderedDict)
    _logged: tuple[float, int] = (float("-inf"), 0)  # when, and the total refused then

    def check(
        self, subject: str, subject_site: str, data: bytes, sig: MessageSignature | None
    ) -> Control | None:
        """The message if it may be acted on; None (and counted) if not."""
        reason = self._refusal(subject, subject_site, data, sig)
        msg = None if reason or sig is None else _parse(data, self.kind)
        if msg is None or sig is None:
            self.refused[reason] += 1
            self.last_refusal = reason
            self._log()
            return None
        self.accepted += 1
        return replace(msg, key_id=sig.key_id)

    def _refusal(
        self, subject: str, subject_site: str, data: bytes, sig: MessageSignature | None
    ) -> str:
        """Why the message must be ignored ("" if it may be acted on)."""
        if sig is None:
            return "unsigned"
        msg = _parse(data, self.kind)
        if msg is None:
            return "malformed"
        if not self.may_send(msg.site, subject_site):
            return "sender-not-allowed"
        return self._signature_refusal(subject, msg, data, sig) or self._freshness_refusal(msg)

    def _freshness_refusal(self, msg: Control) -> str:
        stamp, now = _parse_time(msg.at), self.now()
        if stamp is None or abs((now - stamp).total_seconds()) > self.window_s:
            return "stale"
        if not self._fresh_nonce(f"{msg.site}:{msg.nonce}", now.timestamp()):
            return "replayed"
        return ""

    def _signature_refusal(
        self, subject: str, msg: Control, data: bytes, sig: MessageSignature
    ) -> str:
        raw = self.site_keys().get(msg.site, {}).get(sig.key_id)
        if raw is None:
            return "untrusted-key"
        text = control_text(msg.kind, msg.site, subject, msg.at, msg.nonce, data, sig.key_id)
        return "" if ed25519_valid(raw, sig.signature, text) else "bad-signature"

    def _log(self) -> None:
        """One line per minute at most, with counts only (nothing of any payload)."""
        now, total = time.monotonic(), self.refused.total()
        if now - self._logged[0] < LOG_EVERY_S:
            return
        counts = ", ".join(f"{r} {n}" for r, n in sorted(self.refused.items()))
        log.warning(
            "ignored %d %s message(s) since the last report (so far, by reason: %s): not "
            "signed by a trusted sender, stale or replayed",
            total - self._logged[1], self.kind, counts,
        )  # fmt: skip
        self._logged = (now, total)

    def _fresh_nonce(self, nonce: str, now: float) -> bool:
        """Remember ``nonce`` for twice the window (a message is fresh for ±window)."""
        while self._nonces:
            oldest, until = next(iter(self._nonces.items()))
            if until > now and len(self._nonces) < MAX_NONCES:
                break
            del self._nonces[oldest]
        if nonce in self._nonces:
            return False
        self._nonces[nonce] = now + 2 * self.window_s
        return True


def own_subject(sender: str, subject_site: str) -> bool:
    """A site speaks only for itself: its status on its subject, fetches of its own log."""
    return sender == subject_site


def from_hub(sender: str, _subject_site: str) -> bool:
    """Only the hub may send this (kept for receivers that answer the hub alone)."""
    return sender == HUB_NAME


def from_another_node(sender: str, subject_site: str) -> bool:
    """A replay of a node's log may be asked by any other node it trusts (the hub, or a
    site whose follower's copy is behind); the gate checks the key is trusted for the
    sender. A node never asks itself."""
    return sender != subject_site


@dataclass
class ReplayLimiter:
    """At most one replay in progress, and at most one per ``interval_s`` per requester."""

    interval_s: float
    in_progress: bool = False
    refused: int = 0
    _last: dict[str, float] = field(default_factory=dict)

    def allow(self, requester: str, now: float) -> bool:
        last = self._last.get(requester)
        if self.in_progress or (last is not None and now - last < self.interval_s):
            self.refused += 1
            return False
        self._last[requester] = now
        self.in_progress = True
        return True

    def done(self) -> None:
        self.in_progress = False
