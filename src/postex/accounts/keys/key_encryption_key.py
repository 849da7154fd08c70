"""The key-encryption key (KEK): never in the database, never in a backup.

Sources, first match wins: the ``POSTEX_KEK`` environment variable (base64 of 32 bytes),
else the key file ``<keys_dir>/kek.json`` created by ``postex init`` with mode 0600. The
file holds the active key and, during rotation, the previous one.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path

from postex.accounts.keys.files import read_secret, write_secret
from postex.kernel.errors import ConfigurationError, KeyUnavailableError

KEK_FILE = "kek.json"


def kek_id_of(key: bytes) -> str:
    return "kek-" + hashlib.sha256(b"postex-kek-id" + key).hexdigest()[:16]


class KekProvider:
    """The KEKs this process can use. A key file is re-read when it changes on disk, so a
    running server follows a `postex keys rotate` done by another process: it wraps new
    data keys under the new active KEK and opens data keys already re-wrapped under it."""

    def __init__(self, keys: dict[str, bytes], active: str, path: Path | None = None) -> None:
        if active not in keys:
            raise ConfigurationError("the active key-encryption key is missing")
        self._keys = keys
        self.active_id = active
        self.path = path
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _follow_file(self) -> None:
        """Reload the key file if another process replaced it (rotation)."""
        if self.path is None:
            return
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return
        data = read_secret(self.path)
        keys = {kid: base64.b64decode(k) for kid, k in data["keys"].items()}
        if data["active"] in keys:
            self._keys, self.active_id, self._seen = keys, data["active"], stamp

    @classmethod
    def from_env_value(cls, value: str) -> KekProvider:
        try:
            key = base64.b64decode(value, validate=True)
        except ValueError:
            raise ConfigurationError("POSTEX_KEK is not valid base64") from None
        if len(key) != 32:
            raise ConfigurationError("POSTEX_KEK must be 32 bytes (base64-encoded)")
        kid = kek_id_of(key)
        return cls({kid: key}, kid)

    @classmethod
    def from_file(cls, path: Path) -> KekProvider:
        data = read_secret(path)
        keys = {kid: base64.b64decode(k) for kid, k in data["keys"].items()}
        return cls(keys, data["active"], path)

    @staticmethod
    def create_file(path: Path) -> KekProvider:
        key = secrets.token_bytes(32)
        kid = kek_id_of(key)
        write_secret(path, {"active": kid, "keys": {kid: base64.b64encode(key).decode()}})
        return KekProvider({kid: key}, kid, path)

    def active(self) -> tuple[str, bytes]:
        self._follow_file()
        return self.active_id, self._keys[self.active_id]

    def get(self, kid: str) -> bytes:
        key = self._keys.get(kid)
        if key is None:
            self._follow_file()
            key = self._keys.get(kid)
        if key is None:
            raise KeyUnavailableError(f"key-encryption key {kid} is not available")
        return key

    def begin_rotation(self) -> str:
        """Add a new active key to the file, keeping the old ones until re-wrapping is done."""
        if self.path is None:
            raise ConfigurationError(
                "the KEK comes from POSTEX_KEK; rotate it by re-wrapping under a key file "
                "(`postex init` creates one) or with your key manager"
            )
        key = secrets.token_bytes(32)
        kid = kek_id_of(key)
        self._keys[kid] = key
        self.active_id = kid
        self._save()
        return kid

    def retire_others(self) -> list[str]:
        """Forget every key but the active one (after all data keys were re-wrapped)."""
        retired = [k for k in self._keys if k != self.active_id]
        for k in retired:
            del self._keys[k]
        if self.path is not None:
            self._save()
        return retired

    def _save(self) -> None:
        assert self.path is not None
        write_secret(
            self.path,
            {
                "active": self.active_id,
                "keys": {k: base64.b64encode(v).decode() for k, v in self._keys.items()},
            },
            replace=True,
        )
        self._seen = self._stamp()
