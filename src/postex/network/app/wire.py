"""The replication wire format: subjects, message ids, and the bytes of each message.

A site publishes its log, in order, as messages of consecutive events on
``<prefix>.events.<SITE>`` (message id ``<SITE>:<first>-<last>``, or ``<SITE>:<seq>`` for
one event), its signed checkpoints on ``<prefix>.checkpoints.<SITE>`` and its wrapped data
keys on ``<prefix>.keys.<SITE>``. Every message is JSON carrying ``"v": WIRE_VERSION``;
a decoder raises :class:`ValidationError` for bytes that are not the message it reads.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from postex.eventlog.events import Checkpoint, StoredEvent
from postex.kernel.errors import ValidationError
from postex.network.app.witness import Witness

WIRE_VERSION = 1
DataKey = tuple[str, str, bytes, str]  # customer id, KEK id, wrapped key, created at


@dataclass(frozen=True)
class Subjects:
    """NATS subjects and the JetStream stream name under a configurable prefix."""

    prefix: str = "postex"

    def events(self, site: str) -> str:
        return f"{self.prefix}.events.{site}"

    def checkpoints(self, site: str) -> str:
        return f"{self.prefix}.checkpoints.{site}"

    def keys(self, site: str) -> str:
        return f"{self.prefix}.keys.{site}"

    def replay(self, site: str) -> str:
        return f"{self.prefix}.replay.{site}"

    def status(self, site: str) -> str:
        return f"{self.prefix}.status.{site}"

    def fetch(self, site: str) -> str:
        """Request/reply: a restoring site reads the hub's copy of its log."""
        return f"{self.prefix}.fetch.{site}"

    @property
    def stream(self) -> str:
        return "".join(c if c.isalnum() else "_" for c in self.prefix.upper()) + "_LOG"

    @property
    def stream_subjects(self) -> list[str]:
        return [self.events("*"), self.checkpoints("*"), self.keys("*")]


def message_id(site: str, first: int, last: int) -> str:
    """``SITE:seq`` for one event, ``SITE:first-last`` for a run of events."""
    return f"{site}:{first}" if first == last else f"{site}:{first}-{last}"


def wire_format_error(what: str, value: object) -> ValidationError:
    """The error for a message (or a part of one) that is not what it should be."""
    return ValidationError.single("message", "wire_format", str(value)[:80], f"bad {what}")


def encode_events(site: str, events: Sequence[StoredEvent]) -> bytes:
    rows = [
        [e.seq, e.recorded_at, e.type, base64.b64encode(e.body).decode(), e.prev_hash.hex(),
         e.hash.hex()]
        for e in events
    ]  # fmt: skip
    return json.dumps({"v": WIRE_VERSION, "site": site, "events": rows}).encode()


def decode_events(data: bytes) -> tuple[str, list[StoredEvent]]:
    """Parse an events message; raise ValidationError if it is not one."""
    # base64.b64decode is binascii.a2b_base64 behind two checks (an ASCII str or bytes)
    # that a2b_base64 makes itself: called directly, once per event.
    unbase64, fromhex = binascii.a2b_base64, bytes.fromhex
    try:
        msg = json.loads(data)
        site = msg["site"]
        out = [
            StoredEvent(site, int(r[0]), str(r[1]), str(r[2]), unbase64(r[3]),
                        fromhex(r[4]), fromhex(r[5]))
            for r in msg["events"]
        ]  # fmt: skip
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise wire_format_error("events message", exc) from None
    if not isinstance(site, str) or not out:
        raise wire_format_error("events message", "no site or no events")
    return site, out


def checkpoint_dict(cp: Checkpoint) -> dict[str, Any]:
    return {
        "site": cp.site, "seq": cp.seq, "hash": cp.hash.hex(), "signed_at": cp.signed_at,
        "key_id": cp.key_id, "signature": base64.b64encode(cp.signature).decode(),
    }  # fmt: skip


def checkpoint_from(d: Mapping[str, Any]) -> Checkpoint:
    try:
        return Checkpoint(
            str(d["site"]), int(d["seq"]), bytes.fromhex(d["hash"]), str(d["signed_at"]),
            str(d["key_id"]), base64.b64decode(d["signature"]),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise wire_format_error("checkpoint", exc) from None


def witness_dict(w: Witness) -> dict[str, Any]:
    return {
        "site": w.site, "seq": w.seq, "witnessed_at": w.witnessed_at, "key_id": w.key_id,
        "signature": base64.b64encode(w.signature).decode(),
    }  # fmt: skip


def witness_from(d: Mapping[str, Any]) -> Witness:
    try:
        return Witness(
            str(d["site"]), int(d["seq"]), str(d["witnessed_at"]), str(d["key_id"]),
            base64.b64decode(d["signature"]),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise wire_format_error("witness", exc) from None


def encode_checkpoint(cp: Checkpoint) -> bytes:
    return json.dumps({"v": WIRE_VERSION, **checkpoint_dict(cp)}).encode()


def decode_checkpoint(data: bytes) -> Checkpoint:
    try:
        d = json.loads(data)
    except ValueError as exc:
        raise wire_format_error("checkpoint", exc) from None
    if not isinstance(d, dict):
        raise wire_format_error("checkpoint", d)
    return checkpoint_from(d)


def encode_keys(site: str, keys: Sequence[DataKey]) -> bytes:
    rows = [[c, k, base64.b64encode(w).decode(), t] for c, k, w, t in keys]
    return json.dumps({"v": WIRE_VERSION, "site": site, "keys": rows}).encode()


def decode_keys(data: bytes) -> tuple[str, list[DataKey]]:
    try:
        msg = json.loads(data)
        keys = [(str(r[0]), str(r[1]), base64.b64decode(r[2]), str(r[3])) for r in msg["keys"]]
        return str(msg["site"]), keys
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise wire_format_error("keys message", exc) from None


def chunk_events(
    events: Iterator[StoredEvent], max_events: int, max_bytes: int
) -> Iterator[list[StoredEvent]]:
    """Runs of consecutive events, each at most ``max_events`` long and about ``max_bytes``."""
    run: list[StoredEvent] = []
    size = 0
    for ev in events:
        run.append(ev)
        size += len(ev.body) * 4 // 3 + len(ev.type) + 200
        if len(run) >= max_events or size >= max_bytes:
            yield run
            run, size = [], 0
    if run:
        yield run
