"""Receipts: proof for a sender that its item's pre-advice and acceptance are in a site's log.

A receipt (``postex-receipt-v1``, JSON) holds, for each event: the row as stored (seq,
time, type, canonical body — personal data stays sealed — and the previous and own hash),
its inclusion proof in the tree of the signed checkpoint, and that checkpoint as a C2SP
signed note with the witness cosignatures it has. Anyone can check it offline with the
site's public key (and the witness's): docs/log-format.md, "Receipts"; :func:`check` here
and tools/verify_receipt.py follow that text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from postex.eventlog.chain import event_hash
from postex.eventlog.events import StoredEvent
from postex.eventlog.merkle import leaf_hash, verify_inclusion
from postex.eventlog.notes import NoteError, cosigned_by, parse, signed_by

VERSION = "postex-receipt-v1"


class ReceiptSources(Protocol):
    """What a site's node holds to write a receipt."""

    def event(self, site: str, seq: int) -> StoredEvent: ...

    def covering_note(self, site: str, seq: int) -> tuple[int, str]:
        """(size, signed note with its cosignatures) of a checkpoint that includes ``seq``."""
        ...

    def inclusion(self, site: str, seq: int, size: int) -> list[bytes]: ...


def digest_of(receipt: Mapping[str, Any]) -> str:
    """The receipt's digest (the certificate's QR code): SHA-256 of
    ``postex-receipt-v1 LF item_id LF (event hash hex LF)… checkpoint body``."""
    head, _ = parse(receipt["checkpoint"])
    text = f"{VERSION}\n{receipt['item_id']}\n"
    text += "".join(f"{e['hash']}\n" for e in receipt["events"])
    return hashlib.sha256((text + head.body).encode()).hexdigest()


def build(
    src: ReceiptSources, item_id: str, site: str, events: Sequence[tuple[str, int]]
) -> dict[str, Any]:
    """The receipt of ``item_id`` for the events (label, seq) of ``site``'s log."""
    size, note = src.covering_note(site, max(seq for _, seq in events))
    out: list[dict[str, Any]] = []
    for label, seq in events:
        ev = src.event(site, seq)
        out.append(
            {
                "label": label,
                "seq": ev.seq,
                "recorded_at": ev.recorded_at,
                "type": ev.type,
                "body": ev.body.decode(),
                "prev_hash": ev.prev_hash.hex(),
                "hash": ev.hash.hex(),
                "proof": [p.hex() for p in src.inclusion(site, seq, size)],
            }
        )
    receipt: dict[str, Any] = {
        "v": VERSION, "item_id": item_id, "site": site, "tree_size": size, "events": out,
        "checkpoint": note,
    }  # fmt: skip
    receipt["digest"] = digest_of(receipt)
    return receipt


@dataclass
class Verdict:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def fail(self, why: str) -> None:
        self.ok = False
        self.problems.append(why)


def check(
    receipt: Mapping[str, Any],
    site_key: bytes,
    witness_key: bytes | None = None,
    witness_name: str | None = None,
) -> Verdict:
    """Verify a receipt offline: every event's hash, its inclusion in the checkpoint's tree,
    the site's signature on the checkpoint and (with ``witness_key``) a cosignature."""
    v = Verdict()
    try:
        head, sigs = parse(str(receipt["checkpoint"]))
        site = str(receipt["site"])
        if head.origin.rsplit("/", 1)[-1] != site or head.size != receipt["tree_size"]:
            v.fail("the checkpoint is not the tree the receipt names")
        if not signed_by(receipt["checkpoint"], head.origin, site_key):
            v.fail("the checkpoint is not signed by the site's key")
        if witness_key is not None:
            names = [witness_name] if witness_name else [n for n, _ in sigs]
            if not any(cosigned_by(receipt["checkpoint"], n, witness_key) for n in names):
                v.fail("no valid cosignature by the witness key")
        for e in receipt["events"]:
            digest = event_hash(
                bytes.fromhex(e["prev_hash"]), site, int(e["seq"]), e["recorded_at"], e["type"],
                e["body"].encode(),
            )  # fmt: skip
            if digest.hex() != e["hash"]:
                v.fail(f"event {e['seq']}: the hash does not match its row")
            proof = [bytes.fromhex(p) for p in e["proof"]]
            if not verify_inclusion(
                leaf_hash(digest), int(e["seq"]) - 1, head.size, proof, head.root
            ):
                v.fail(f"event {e['seq']}: not included in the signed tree")
            body = json.loads(e["body"])
            if body.get("item_id") != receipt["item_id"]:
                v.fail(f"event {e['seq']}: is about another item")
            v.facts[e["label"]] = {
                k: body[k] for k in ("item_id", "site", "origin_site", "service", "destination",
                                     "weight_g") if k in body
            } | {"recorded_at": e["recorded_at"], "seq": e["seq"], "type": e["type"]}  # fmt: skip
        if digest_of(receipt) != receipt.get("digest"):
            v.fail("the digest does not match the receipt")
    except (KeyError, TypeError, ValueError, NoteError) as exc:
        v.fail(f"malformed receipt: {exc}")
    return v
