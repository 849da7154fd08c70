"""Ed25519-signed checkpoints over a fixed text form.

The signed text is (UTF-8, lines ending in LF, no trailing newline)::

    postex-checkpoint-v1
    site=<site>
    seq=<decimal seq>
    hash=<64 lowercase hex>
    signed_at=<RFC 3339 UTC>
    key_id=<key id>
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from postex.eventlog.events import Checkpoint


def checkpoint_text(site: str, seq: int, hash_: bytes, signed_at: str, key_id: str) -> bytes:
    return (
        f"postex-checkpoint-v1\nsite={site}\nseq={seq}\nhash={hash_.hex()}\n"
        f"signed_at={signed_at}\nkey_id={key_id}"
    ).encode()


class Signer(Protocol):
    """A site's signing key (the private half never leaves the key provider)."""

    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


def make_checkpoint(
    signer: Signer, site: str, seq: int, hash_: bytes, signed_at: str
) -> Checkpoint:
    text = checkpoint_text(site, seq, hash_, signed_at, signer.key_id)
    return Checkpoint(site, seq, hash_, signed_at, signer.key_id, signer.sign(text))


def signature_valid(cp: Checkpoint, trusted: Mapping[str, bytes]) -> bool:
    """True if ``cp`` is signed by a trusted key (raw 32-byte Ed25519 public keys by id)."""
    raw = trusted.get(cp.key_id)
    if raw is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(
            cp.signature, checkpoint_text(cp.site, cp.seq, cp.hash, cp.signed_at, cp.key_id)
        )
    except (InvalidSignature, ValueError):
        return False
    return True
