"""Site signing keys (Ed25519) for checkpoints, kept as 0600 files beside the KEK."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from postex.accounts.keys.files import read_secret, write_secret
from postex.eventlog.checkpoints import TrustedKeys


def key_id_of(public: bytes) -> str:
    return "ed25519-" + hashlib.sha256(public).hexdigest()[:16]


class FileSigner:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key().public_bytes_raw()
        self._key_id = key_id_of(self.public)

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


def signer_path(keys_dir: Path, site: str) -> Path:
    return keys_dir / f"signing-{site}.json"


def load_or_create_signer(keys_dir: Path, site: str) -> FileSigner:
    path = signer_path(keys_dir, site)
    if not path.exists():
        private = Ed25519PrivateKey.generate()
        write_secret(
            path,
            {"site": site, "private": base64.b64encode(private.private_bytes_raw()).decode()},
        )
        return FileSigner(private)
    data = read_secret(path)
    return FileSigner(Ed25519PrivateKey.from_private_bytes(base64.b64decode(data["private"])))


def trusted_keys(keys_dir: Path) -> TrustedKeys:
    """Public keys this node trusts: its own sites' keys and witnessed keys (``*.pub``),
    each bound to the site it signs for (:func:`site_keys`)."""
    return TrustedKeys(site_keys(keys_dir))


def site_keys(keys_dir: Path) -> dict[str, dict[str, bytes]]:
    """Trusted public keys by the site (or node) they belong to, then by key id.

    ``<NAME>.pub`` (written by ``postex replication trust --name NAME``) is NAME's key;
    ``signing-<SITE>.json`` is the key of a site this node runs itself.
    """
    out: dict[str, dict[str, bytes]] = {}
    if not keys_dir.is_dir():
        return out
    for path in sorted(keys_dir.glob("signing-*.json")):
        site = path.stem.removeprefix("signing-")
        signer = load_or_create_signer(keys_dir, site)
        out.setdefault(site, {})[signer.key_id] = signer.public
    for path in sorted(keys_dir.glob("*.pub")):
        raw = base64.b64decode(path.read_text().strip())
        out.setdefault(path.stem, {})[key_id_of(raw)] = raw
    return out
