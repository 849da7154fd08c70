"""The per-site SHA-256 hash chain and its verification.

``hash = SHA-256(L(prev_hash) ‖ L(site) ‖ L(seq) ‖ L(recorded_at) ‖ L(type) ‖ L(body))``
where ``L(x)`` is the 4-byte big-endian length of ``x`` followed by ``x``; ``seq`` is an
8-byte big-endian unsigned integer; text fields are UTF-8; the first event's ``prev_hash``
is 32 zero bytes. docs/log-format.md gives a test vector.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from postex.eventlog.events import StoredEvent

ZERO_HASH = bytes(32)
_pack_len = struct.Struct(">I").pack
_pack_seq = struct.Struct(">IQ").pack  # length prefix (8) and the seq itself
_sha256 = hashlib.sha256


@cache
def _text_field(text: str) -> bytes:
    """``L(text)``: site codes, event types and timestamps recur, so they are cached."""
    raw = text.encode()
    return _pack_len(len(raw)) + raw


def event_hash(
    prev_hash: bytes, site: str, seq: int, recorded_at: str, type_: str, body: bytes
) -> bytes:
    r = recorded_at.encode()
    return _sha256(
        b"".join(
            (
                _pack_len(len(prev_hash)), prev_hash,
                _text_field(site),
                _pack_seq(8, seq),
                _pack_len(len(r)), r,
                _text_field(type_),
                _pack_len(len(body)), body,
            )
        )
    ).digest()  # fmt: skip


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, the only form ``recorded_at`` takes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ChainFault:
    site: str
    seq: int
    reason: str


@dataclass
class ChainState:
    """Where a verification stands: the last good seq and hash of one site."""

    site: str
    seq: int = 0
    hash: bytes = ZERO_HASH


def verify_events(state: ChainState, events: Iterable[StoredEvent]) -> ChainFault | None:
    """Check links, gaps and hashes; advance ``state``; return the first fault or None."""
    site = state.site
    for ev in events:
        expected_seq = state.seq + 1
        if ev.site != site:
            return ChainFault(site, expected_seq, f"event of site {ev.site} in the log of {site}")
        if ev.seq != expected_seq:
            reason = (
                "missing event (gap)" if ev.seq > expected_seq else "duplicate or reordered seq"
            )
            return ChainFault(site, expected_seq, reason)
        if ev.prev_hash != state.hash:
            return ChainFault(site, ev.seq, "prev_hash does not link to the previous event")
        if event_hash(ev.prev_hash, site, ev.seq, ev.recorded_at, ev.type, ev.body) != ev.hash:
            return ChainFault(site, ev.seq, "hash does not match the stored event")
        state.seq, state.hash = ev.seq, ev.hash
    return None
