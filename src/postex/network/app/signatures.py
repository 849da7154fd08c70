"""Message signatures: every events and keys message is signed by the site that publishes it.

The signature travels in two headers (:data:`SIGNATURE_HEADER`, :data:`KEY_ID_HEADER`).
The signed text (:func:`message_text`) binds the message to its site and seq range and,
through a SHA-256 digest, to its exact payload bytes (see docs/log-format.md). The hub
checks it with the key it trusts for that site before anything else.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from postex.eventlog.checkpoints import Signer, ed25519_valid
from postex.eventlog.events import StoredEvent

SIGNATURE_HEADER = "Postex-Signature"
KEY_ID_HEADER = "Postex-Key-Id"


@dataclass(frozen=True)
class MessageSignature:
    key_id: str
    signature: bytes


@dataclass(frozen=True)
class MessageClaim:
    """What a signed message says about itself: kind, site, seq range, last hash, payload."""

    kind: str  # "events" or "keys"
    site: str
    first: int
    last: int
    last_hash: bytes
    payload: bytes

    def describe(self) -> str:
        return f"{self.kind} {self.first}-{self.last}" if self.kind == "events" else self.kind


def message_text(claim: MessageClaim, key_id: str) -> bytes:
    """The signed form: UTF-8 lines joined by LF, no trailing newline."""
    return (
        f"postex-message-v1\nkind={claim.kind}\nsite={claim.site}\nfirst={claim.first}\n"
        f"last={claim.last}\nlast_hash={claim.last_hash.hex()}\n"
        f"payload_sha256={hashlib.sha256(claim.payload).hexdigest()}\nkey_id={key_id}"
    ).encode()


def events_claim(site: str, events: Sequence[StoredEvent], payload: bytes) -> MessageClaim:
    return MessageClaim("events", site, events[0].seq, events[-1].seq, events[-1].hash, payload)


def keys_claim(site: str, payload: bytes) -> MessageClaim:
    return MessageClaim("keys", site, 0, 0, b"", payload)


def sign_message(signer: Signer, claim: MessageClaim) -> dict[str, str]:
    """The signature headers of a message (the site's own key)."""
    sig = signer.sign(message_text(claim, signer.key_id))
    return {SIGNATURE_HEADER: base64.b64encode(sig).decode(), KEY_ID_HEADER: signer.key_id}


def read_signature(headers: Mapping[str, str] | None) -> MessageSignature | None:
    """The signature a message carries; None if it carries none (or an unreadable one)."""
    if not headers or SIGNATURE_HEADER not in headers or KEY_ID_HEADER not in headers:
        return None
    try:
        raw = base64.b64decode(headers[SIGNATURE_HEADER], validate=True)
    except ValueError:
        return None
    return MessageSignature(headers[KEY_ID_HEADER], raw)


def message_refusal(
    claim: MessageClaim, sig: MessageSignature | None, site_keys: Mapping[str, Mapping[str, bytes]]
) -> str | None:
    """Why a message must be refused, or None if the site's trusted key signed it.

    ``site_keys`` maps a site to its trusted public keys by key id: a key trusted for
    another site (or the hub's own) does not sign for this one.
    """
    if sig is None:
        return "unsigned"
    raw = site_keys.get(claim.site, {}).get(sig.key_id)
    if raw is None:
        return f"signed with key {sig.key_id[:40]!r}, not a key trusted for {claim.site}"
    if not ed25519_valid(raw, sig.signature, message_text(claim, sig.key_id)):
        return "signature does not match the message"
    return None


def site_code_ok(site: str) -> bool:
    return 0 < len(site) <= 16 and site.isascii() and site.isalnum()
