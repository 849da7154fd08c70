"""Replication of every site's log to the hub: wire format, checks on arrival, witnessing.

A site publishes its log, in order, as messages of consecutive events on
``<prefix>.events.<SITE>`` (message id ``<SITE>:<first>-<last>``, or ``<SITE>:<seq>`` for
one event), its signed checkpoints on ``<prefix>.checkpoints.<SITE>`` and its wrapped data
keys on ``<prefix>.keys.<SITE>``; every events and keys message carries the site's
signature (:func:`message_text`), which the hub checks with the key it trusts for that site
before anything else. The hub (:class:`Hub`) keeps a verified copy: it links
each event to the head of its copy and recomputes its hash; it never stores a broken event
and never skips one (a gap asks the site for a replay); it countersigns every site
checkpoint its copy agrees with and raises an alarm for any history that disagrees with
what it already holds. In the transaction that stores events it also applies the same
projections a site does, so the hub answers tracking for items of every site (sites issue
ids from their own serial sub-blocks, so item ids never collide).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from postex.eventlog.chain import ChainFault, ChainState, format_time, verify_events
from postex.eventlog.checkpoints import Signer, checkpoint_text, signature_valid
from postex.eventlog.events import Checkpoint, StoredEvent
from postex.eventlog.ports import Clock
from postex.kernel.errors import ValidationError

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


# --- wire format -------------------------------------------------------------------------
def _bad(what: str, value: object) -> ValidationError:
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
    try:
        msg = json.loads(data)
        site = msg["site"]
        out = [
            StoredEvent(site, int(r[0]), str(r[1]), str(r[2]), base64.b64decode(r[3]),
                        bytes.fromhex(r[4]), bytes.fromhex(r[5]))
            for r in msg["events"]
        ]  # fmt: skip
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise _bad("events message", exc) from None
    if not isinstance(site, str) or not out:
        raise _bad("events message", "no site or no events")
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
        raise _bad("checkpoint", exc) from None


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
        raise _bad("witness", exc) from None


def encode_checkpoint(cp: Checkpoint) -> bytes:
    return json.dumps({"v": WIRE_VERSION, **checkpoint_dict(cp)}).encode()


def decode_checkpoint(data: bytes) -> Checkpoint:
    try:
        d = json.loads(data)
    except ValueError as exc:
        raise _bad("checkpoint", exc) from None
    if not isinstance(d, dict):
        raise _bad("checkpoint", d)
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
        raise _bad("keys message", exc) from None


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


# --- message signatures --------------------------------------------------------------------
# Every events and keys message carries the publishing site's Ed25519 signature in two
# headers. The signed text binds the message to its site and seq range and, through a
# SHA-256 digest, to its exact payload bytes (see docs/log-format.md).
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
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(
            sig.signature, message_text(claim, sig.key_id)
        )
    except (InvalidSignature, ValueError):
        return "signature does not match the message"
    return None


def site_code_ok(site: str) -> bool:
    return 0 < len(site) <= 16 and site.isascii() and site.isalnum()


# --- witnessing ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Witness:
    """The hub's countersignature of a site checkpoint its copy agrees with."""

    site: str
    seq: int
    witnessed_at: str
    key_id: str
    signature: bytes


def witness_text(cp: Checkpoint, witnessed_at: str, key_id: str) -> bytes:
    body = checkpoint_text(cp.site, cp.seq, cp.hash, cp.signed_at, cp.key_id)
    return (
        b"postex-witness-v1\n" + body + f"\nwitnessed_at={witnessed_at}\nwitness={key_id}".encode()
    )


def countersign(signer: Signer, cp: Checkpoint, witnessed_at: str) -> Witness:
    sig = signer.sign(witness_text(cp, witnessed_at, signer.key_id))
    return Witness(cp.site, cp.seq, witnessed_at, signer.key_id, sig)


def witness_valid(w: Witness, cp: Checkpoint, trusted: Mapping[str, bytes]) -> bool:
    raw = trusted.get(w.key_id)
    if raw is None or (w.site, w.seq) != (cp.site, cp.seq):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(
            w.signature, witness_text(cp, w.witnessed_at, w.key_id)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


# --- ports ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Alarm:
    id: int
    site: str
    seq: int
    kind: str
    detail: str
    raised_at: str


@dataclass(frozen=True)
class SiteReportedHead:
    site: str
    head_seq: int
    acked_seq: int
    reported_at: str


@dataclass(frozen=True)
class VerificationRecord:
    at: str
    ok: bool
    events_checked: int
    detail: str


class ReplicationState(Protocol):
    """Replication bookkeeping kept beside the log (not in it, not a projection)."""

    def acked(self, site: str) -> int:
        """The highest seq of ``site`` the transport has acknowledged (site side)."""
        ...

    def set_acked(self, site: str, seq: int, at: str) -> None: ...

    def raise_alarm(self, site: str, seq: int, kind: str, detail: str, at: str) -> bool:
        """Record an integrity alarm; False if the same one is already open."""
        ...

    def alarms(self) -> list[Alarm]:
        """The open alarms (not cleared), oldest first."""
        ...

    def clear_alarm(self, alarm_id: int, reason: str, at: str) -> Alarm | None:
        """Close an open alarm; None if there is no such open alarm."""
        ...

    def record_report(self, report: SiteReportedHead) -> None: ...

    def reports(self) -> dict[str, SiteReportedHead]: ...

    def save_witness(self, w: Witness) -> None:
        """Keep the first countersignature of a checkpoint; later ones are ignored."""
        ...

    def witnesses(self, site: str) -> list[Witness]: ...

    def save_data_keys(self, site: str, keys: Sequence[DataKey]) -> None:
        """Replace the hub's copy of ``site``'s wrapped data keys."""
        ...

    def data_keys(self, site: str) -> list[DataKey]: ...

    def record_verification(self, v: VerificationRecord) -> None: ...

    def last_verification(self) -> VerificationRecord | None: ...


class ProjectionRefusedError(Exception):
    """The events link and verify, but a projection refused them (e.g. a duplicate key)."""


class HubStore(Protocol):
    """The hub's copy of the sites' logs."""

    def head(self, site: str) -> tuple[int, bytes]: ...

    def read_events(
        self, site: str, after_seq: int = 0, until_seq: int | None = None, batch: int = 5000
    ) -> Iterator[StoredEvent]: ...

    def checkpoints(self, site: str) -> list[Checkpoint]: ...

    def save_checkpoint(self, cp: Checkpoint) -> None: ...

    def import_events(self, site: str, events: Sequence[StoredEvent], project: bool = True) -> int:
        """Append already-hashed events after the head; raise IntegrityError if they do not link.

        With ``project``, apply the projections in the same transaction; raise
        :class:`ProjectionRefusedError` (nothing written) if a projection refuses the events.
        """
        ...


@dataclass
class Outcome:
    """What the hub did with one message."""

    stored: int = 0
    duplicates: int = 0
    gap_from: int | None = None
    fault: ChainFault | None = None


@dataclass
class Hub:
    """The hub's side: verify, store, witness, alarm. One instance per consumer."""

    store: HubStore
    state: ReplicationState
    signer: Signer
    trusted: Mapping[str, bytes]
    clock: Clock
    # Apply the projections to stored events (tracking for the whole network). Item ids
    # are unique across sites because each issues from its own serial sub-block.
    project: bool = True
    # Each site's trusted public keys by key id: only these sign that site's messages.
    site_keys: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    _cps: dict[str, dict[int, Checkpoint]] = field(default_factory=dict)

    def _now(self) -> str:
        return format_time(self.clock.now())

    def _alarm(self, fault: ChainFault, kind: str) -> None:
        self.state.raise_alarm(fault.site, fault.seq, kind, fault.reason, self._now())

    def _checkpoints(self, site: str) -> dict[int, Checkpoint]:
        if site not in self._cps:
            self._cps[site] = {cp.seq: cp for cp in self.store.checkpoints(site)}
        return self._cps[site]

    def _refused(self, subject_site: str, claim: MessageClaim, reason: str, signed: bool) -> None:
        kind = "bad-message-signature" if signed else "unsigned-message"
        detail = f"{claim.describe()} refused, nothing stored: {reason}"
        self._alarm(ChainFault(subject_site, claim.first, detail), kind)

    def _check_message(
        self, subject_site: str, claim: MessageClaim, sig: MessageSignature | None
    ) -> bool:
        """True if ``claim`` may be processed: the subject's site's trusted key signed it."""
        if claim.site != subject_site:
            reason = f"carries site {claim.site[:16]!r}'s {claim.kind} on {subject_site}'s subject"
        else:
            reason = message_refusal(claim, sig, self.site_keys) or ""
        if reason:
            self._refused(subject_site, claim, reason, sig is not None)
            return False
        return True

    def receive_signed_events(
        self, subject_site: str, data: bytes, sig: MessageSignature | None
    ) -> Outcome | None:
        """An events message off the wire: verify its signature first, then
        :meth:`receive_events`. None (and an alarm, nothing stored) if it is refused; a
        message that is not an events message at all raises ValidationError."""
        if not site_code_ok(subject_site):
            raise _bad("subject site", subject_site)
        site, events = decode_events(data)
        if not self._check_message(subject_site, events_claim(site, events, data), sig):
            return None
        return self.receive_events(site, events)

    def receive_signed_keys(
        self, subject_site: str, data: bytes, sig: MessageSignature | None
    ) -> bool:
        """A keys message off the wire: kept only if the site's trusted key signed it."""
        if not site_code_ok(subject_site):
            raise _bad("subject site", subject_site)
        site, keys = decode_keys(data)
        if not self._check_message(subject_site, keys_claim(site, data), sig):
            return False
        self.receive_keys(site, keys)
        return True

    def receive_events(self, site: str, events: Sequence[StoredEvent]) -> Outcome:
        """Store the events that extend the copy; report duplicates, a gap or a fault.

        Trusts that ``events`` come from ``site``: messages off the wire go through
        :meth:`receive_signed_events`.
        """
        out = Outcome()
        if any(e.site != site for e in events):
            out.fault = ChainFault(site, events[0].seq, "message carries another site's events")
            self._alarm(out.fault, "wrong-site")
            return out
        head_seq, head_hash = self.store.head(site)
        old = [e for e in events if e.seq <= head_seq]
        if old:
            ours = {
                e.seq: e.hash for e in self.store.read_events(site, old[0].seq - 1, old[-1].seq)
            }
            for e in old:
                if ours.get(e.seq) != e.hash:
                    out.fault = ChainFault(
                        site, e.seq, "site presents a history that differs from the hub's copy"
                    )
                    self._alarm(out.fault, "inconsistent-history")
                    return out
            out.duplicates = len(old)
        new = [e for e in events if e.seq > head_seq]
        if not new:
            return out
        if new[0].seq != head_seq + 1:
            out.gap_from = head_seq + 1
            return out
        chain = ChainState(site, head_seq, head_hash)
        fault = verify_events(chain, new)
        good = new[: chain.seq - head_seq]
        cps = self._checkpoints(site)
        for e in good:
            cp = cps.get(e.seq)
            if cp is not None and cp.hash != e.hash:
                fault = ChainFault(site, e.seq, "event differs from a checkpoint the hub holds")
                good = good[: e.seq - head_seq - 1]
                break
        if good:
            out.stored = self._store(site, good)
            for e in good:
                cp = cps.get(e.seq)
                if cp is not None:
                    self.state.save_witness(countersign(self.signer, cp, self._now()))
        if fault is not None:
            out.fault = fault
            self._alarm(fault, "broken-chain")
        return out

    def _store(self, site: str, events: Sequence[StoredEvent]) -> int:
        """Store verified events with their projections; if a projection refuses them, the
        copy still comes first: store them unprojected and raise an alarm (fix the cause,
        e.g. two sites sharing a serial slot, then ``postex rebuild`` the hub)."""
        try:
            return self.store.import_events(site, events, project=self.project)
        except ProjectionRefusedError as exc:
            stored = self.store.import_events(site, events, project=False)
            first, last = events[0].seq, events[-1].seq
            reason = (
                f"events {first}-{last} stored but not projected ({exc}); "
                "fix the cause and run postex rebuild"
            )
            self._alarm(ChainFault(site, first, reason), "projection-failed")
            return stored

    def receive_checkpoint(self, cp: Checkpoint) -> Witness | None:
        """Keep a site checkpoint and countersign it once the copy reaches and agrees with it."""
        if not site_code_ok(cp.site):
            raise _bad("checkpoint site", cp.site)
        if not signature_valid(cp, self.trusted):
            self._alarm(ChainFault(cp.site, cp.seq, "checkpoint signature is not valid"), "bad-sig")
            return None
        if cp.key_id not in self.site_keys.get(cp.site, {}):
            reason = f"checkpoint signed by key {cp.key_id[:40]!r}, not a key trusted for the site"
            self._alarm(ChainFault(cp.site, cp.seq, reason), "bad-sig")
            return None
        cps = self._checkpoints(cp.site)
        held = cps.get(cp.seq)
        if held is not None and held.hash != cp.hash:
            fault = ChainFault(cp.site, cp.seq, "checkpoint contradicts one the hub holds")
            self._alarm(fault, "inconsistent-history")
            return None
        head_seq, _ = self.store.head(cp.site)
        if cp.seq <= head_seq:
            ours = next(iter(self.store.read_events(cp.site, cp.seq - 1, cp.seq, batch=1)), None)
            if ours is None or ours.hash != cp.hash:
                fault = ChainFault(cp.site, cp.seq, "checkpoint contradicts the hub's copy")
                self._alarm(fault, "inconsistent-history")
                return None
        if held is None:
            self.store.save_checkpoint(cp)
            cps[cp.seq] = cp
        if cp.seq > head_seq:
            return None  # witnessed when the events arrive
        w = countersign(self.signer, cp, self._now())
        self.state.save_witness(w)
        return w

    def receive_keys(self, site: str, keys: Sequence[DataKey]) -> None:
        self.state.save_data_keys(site, keys)

    def receive_report(self, report: SiteReportedHead) -> None:
        self.state.record_report(report)
