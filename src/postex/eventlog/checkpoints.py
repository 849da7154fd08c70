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

from collections.abc import Iterator, Mapping
from functools import lru_cache
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

    @property
    def public(self) -> bytes:
        """The raw 32-byte Ed25519 public key (it names the key in signed notes)."""
        ...

    def sign(self, message: bytes) -> bytes: ...


def make_checkpoint(
    signer: Signer, site: str, seq: int, hash_: bytes, signed_at: str
) -> Checkpoint:
    text = checkpoint_text(site, seq, hash_, signed_at, signer.key_id)
    return Checkpoint(site, seq, hash_, signed_at, signer.key_id, signer.sign(text))


@lru_cache(maxsize=256)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    # Parsing decompresses the curve point: a follower checks a signature per message with
    # the same few trusted keys, so each is parsed once.
    return Ed25519PublicKey.from_public_bytes(raw)


def ed25519_valid(public: bytes, signature: bytes, message: bytes) -> bool:
    """True if ``signature`` over ``message`` verifies under the raw 32-byte ``public`` key;
    False for a bad signature or a malformed key."""
    try:
        _public_key(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def signature_valid(cp: Checkpoint, trusted: Mapping[str, bytes]) -> bool:
    """True if ``cp`` is signed by a trusted key (raw 32-byte Ed25519 public keys by id)."""
    raw = trusted.get(cp.key_id)
    if raw is None:
        return False
    text = checkpoint_text(cp.site, cp.seq, cp.hash, cp.signed_at, cp.key_id)
    return ed25519_valid(raw, cp.signature, text)


class TrustedKeys(Mapping[str, bytes]):
    """Every public key a node trusts (by key id), and which site each one signs for.

    As a mapping it holds all of them (witnesses, backup manifests); :meth:`for_site` gives
    the keys a checkpoint of that site may be signed by: a key trusted for another site,
    or the hub's, does not sign for this one.
    """

    def __init__(self, by_site: Mapping[str, Mapping[str, bytes]]) -> None:
        self._by_site = {site: dict(keys) for site, keys in by_site.items()}
        self._all = {kid: raw for keys in self._by_site.values() for kid, raw in keys.items()}

    def __getitem__(self, key_id: str) -> bytes:
        return self._all[key_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    def for_site(self, site: str) -> Mapping[str, bytes]:
        return self._by_site.get(site, {})


def keys_for_site(trusted: Mapping[str, bytes], site: str) -> Mapping[str, bytes]:
    """The keys trusted to sign ``site``'s checkpoints: bound to the site when ``trusted``
    says which key belongs to which site (:class:`TrustedKeys`), else all of them."""
    return trusted.for_site(site) if isinstance(trusted, TrustedKeys) else trusted
