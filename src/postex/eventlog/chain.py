"""The per-site SHA-256 hash chain and its verification.

``hash = SHA-256(L(prev_hash) ‖ L(site) ‖ L(seq) ‖ L(recorded_at) ‖ L(type) ‖ L(body))``
where ``L(x)`` is the 4-byte big-endian length of ``x`` followed by ``x``; ``seq`` is an
8-byte big-endian unsigned integer; text fields are UTF-8; the first event's ``prev_hash``
is 32 zero bytes. docs/log-format.md gives a test vector.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from postex.eventlog.events import EventRow, StoredEvent, rows_of

ZERO_HASH = bytes(32)
_pack_len = struct.Struct(">I").pack
_pack_seq = struct.Struct(">IQ").pack  # length prefix (8) and the seq itself
_sha256 = hashlib.sha256
_LEN_DIGEST = _pack_len(32)


@lru_cache(maxsize=1024)
def _text_field(text: str) -> bytes:
    """``L(text)``: site codes and event types recur, so they are cached (bounded: a
    damaged log may hold any number of distinct values)."""
    raw = text.encode()
    return _pack_len(len(raw)) + raw


def event_hash(
    prev_hash: bytes, site: str, seq: int, recorded_at: str, type_: str, body: bytes
) -> bytes:
    r = recorded_at.encode()
    digest = _sha256(
        b"".join(
            (
                _pack_len(len(prev_hash)), prev_hash,
                _text_field(site),
                _pack_seq(8, seq),
                _pack_len(len(r)), r,
                _text_field(type_),
                _pack_len(len(body)),
            )
        )
    )  # fmt: skip
    digest.update(body)  # the body is last: hashed in place, never copied
    return digest.digest()


def chain_hashes(
    prev_hash: bytes,
    site: str,
    first_seq: int,
    recorded_at: str,
    types: Sequence[str],
    bodies: Sequence[bytes],
) -> list[bytes]:
    """The hashes of consecutive events of one site recorded at one instant (one append).

    Equal to :func:`event_hash` applied event by event; the fields shared by the batch are
    encoded once. This is the append's hot loop.
    """
    site_field = _text_field(site)
    raw_time = recorded_at.encode()  # not cached: every append has its own instant
    time_field = _pack_len(len(raw_time)) + raw_time
    pack_seq, pack_len, sha256 = _pack_seq, _pack_len, _sha256
    prev_field = pack_len(len(prev_hash))  # after the first event always L(32 bytes)
    out: list[bytes] = []
    append = out.append
    seq = first_seq
    for type_, body in zip(types, bodies, strict=True):
        digest = sha256(
            b"".join(
                (prev_field, prev_hash, site_field, pack_seq(8, seq), time_field,
                 _text_field(type_), pack_len(len(body)))
            )
        )  # fmt: skip
        digest.update(body)
        prev_hash = digest.digest()
        prev_field = _LEN_DIGEST
        append(prev_hash)
        seq += 1
    return out


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
    checked: int = 0


def verify_events(
    state: ChainState,
    events: Iterable[StoredEvent],
    watch: Container[int] = (),
    seen: dict[int, bytes] | None = None,
    tick: Callable[[int], None] | None = None,
    every: int = 10_000,
) -> ChainFault | None:
    """:func:`verify_rows` for StoredEvent objects."""
    return verify_rows(state, rows_of(events), watch, seen, tick, every)


def verify_rows(
    state: ChainState,
    rows: Iterable[EventRow],
    watch: Container[int] = (),
    seen: dict[int, bytes] | None = None,
    tick: Callable[[int], None] | None = None,
    every: int = 10_000,
) -> ChainFault | None:
    """Check links, gaps and hashes; advance ``state``; return the first fault or None.

    The hashes of the seqs in ``watch`` are put in ``seen`` (for checkpoint comparison);
    ``tick`` receives the running count every ``every`` events. One loop does it all: this
    is the verifier's hot path, so :func:`event_hash` is inlined, with the fields that
    consecutive events share (site, the time of one append, the type) encoded once.
    """
    site = state.site
    seq, last = state.seq, state.hash
    count = 0
    site_field = _text_field(site)
    pack_len, pack_seq, sha256, type_field = _pack_len, _pack_seq, _sha256, _text_field
    prev_field = pack_len(len(last))  # after the first event always L(32 bytes)
    time_of: str | None = None
    kind_of: str | None = None
    time_field = kind_field = b""
    expected = seq + 1
    try:
        for ev_site, ev_seq, recorded_at, type_, body, prev_hash, digest in rows:
            expected = seq + 1
            if ev_site != site:
                return ChainFault(site, expected, f"event of site {ev_site} in the log of {site}")
            if ev_seq != expected:
                reason = (
                    "missing event (gap)" if ev_seq > expected else "duplicate or reordered seq"
                )
                return ChainFault(site, expected, reason)
            if prev_hash != last:
                return ChainFault(site, expected, "prev_hash does not link to the previous event")
            if recorded_at != time_of:  # consecutive events of one append share their time
                raw = recorded_at.encode()
                time_of, time_field = recorded_at, pack_len(len(raw)) + raw
            if type_ != kind_of:
                kind_of, kind_field = type_, type_field(type_)
            h = sha256(
                b"".join(
                    (prev_field, last, site_field, pack_seq(8, expected), time_field, kind_field,
                     pack_len(len(body)))
                )
            )  # fmt: skip
            h.update(body)
            if h.digest() != digest:
                return ChainFault(site, expected, "hash does not match the stored event")
            seq, last, prev_field = expected, digest, _LEN_DIGEST
            if expected in watch and seen is not None:
                seen[expected] = digest
            count += 1
            if tick is not None and count % every == 0:
                tick(count)
    except (AttributeError, TypeError, ValueError):  # a column of the wrong type or shape
        return ChainFault(site, expected, "malformed event row")
    finally:
        state.seq, state.hash = seq, last
        state.checked += count
    return None
