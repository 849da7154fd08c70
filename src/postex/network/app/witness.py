"""Witnessing: the hub countersigns every site checkpoint its copy agrees with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from postex.eventlog.checkpoints import Signer, checkpoint_text, ed25519_valid
from postex.eventlog.events import Checkpoint


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
    return ed25519_valid(raw, w.signature, witness_text(cp, w.witnessed_at, w.key_id))
