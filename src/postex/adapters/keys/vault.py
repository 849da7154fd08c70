"""Envelope encryption of personal data: AES-256-GCM under per-customer data keys.

A data key (32 random bytes) is wrapped with AES-256-GCM under the KEK, with the
customer id as associated data, and stored in ``data_keys``. Sealed values are
``v1.<base64url(nonce ‖ ciphertext ‖ tag)>`` with the caller's associated data (e.g. the
customer and item id), so a ciphertext moved to another item does not open.
Destroying a customer's data key makes every value sealed under it unreadable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from postex.adapters.keys.key_encryption_key import KekProvider
from postex.app.ports import DataKeys, Progress, UnitOfWork
from postex.domain.errors import KeyUnavailableError

PREFIX = "v1."
NONCE_BLOCK = 1000


class EnvelopeVault:
    def __init__(self, kek: KekProvider) -> None:
        self.kek = kek
        self._cache: dict[str, AESGCM] = {}
        self._index_keys: dict[tuple[str, str], bytes] = {}
        self._guard = threading.Lock()
        self._nonces: list[bytes] = []

    def _wrap(self, customer_id: str, dek: bytes) -> tuple[str, bytes]:
        kid, key = self.kek.active()
        nonce = secrets.token_bytes(12)
        return kid, nonce + AESGCM(key).encrypt(nonce, dek, customer_id.encode())

    def _unwrap(self, customer_id: str, kid: str, wrapped: bytes) -> bytes:
        try:
            return AESGCM(self.kek.get(kid)).decrypt(
                wrapped[:12], wrapped[12:], customer_id.encode()
            )
        except InvalidTag:
            raise KeyUnavailableError("a data key does not open under the KEK") from None

    def create_key(self, uow: UnitOfWork, customer_id: str) -> None:
        kid, wrapped = self._wrap(customer_id, secrets.token_bytes(32))
        uow.repo(DataKeys).put(customer_id, kid, wrapped)

    def _aead(self, uow: UnitOfWork, customer_id: str) -> AESGCM:
        cached = self._cache.get(customer_id)
        if cached is not None:
            return cached
        found = uow.repo(DataKeys).get(customer_id)
        if found is None:
            raise KeyUnavailableError("the customer's data key was destroyed or never existed")
        aead = AESGCM(self._unwrap(customer_id, *found))
        with self._guard:
            self._cache[customer_id] = aead
        return aead

    def _nonce(self) -> bytes:
        """A random 96-bit nonce, drawn from the OS in blocks (one syscall per 1,000)."""
        with self._guard:
            if not self._nonces:
                pool = secrets.token_bytes(12 * NONCE_BLOCK)
                self._nonces = [pool[i : i + 12] for i in range(0, len(pool), 12)]
            return self._nonces.pop()

    def seal(self, uow: UnitOfWork, customer_id: str, aad: str, data: Mapping[str, Any]) -> str:
        plain = orjson.dumps(data)
        nonce = self._nonce()
        blob = nonce + self._aead(uow, customer_id).encrypt(nonce, plain, aad.encode())
        return PREFIX + base64.urlsafe_b64encode(blob).decode()

    def open(self, uow: UnitOfWork, customer_id: str, aad: str, token: str) -> dict[str, Any]:
        if not token.startswith(PREFIX):
            raise KeyUnavailableError("not a sealed value")
        blob = base64.urlsafe_b64decode(token[len(PREFIX) :])
        try:
            plain = self._aead(uow, customer_id).decrypt(blob[:12], blob[12:], aad.encode())
        except InvalidTag:
            raise KeyUnavailableError("sealed value does not open (tampered or moved)") from None
        result: dict[str, Any] = orjson.loads(plain)
        return result

    def blind_index(self, uow: UnitOfWork, customer_id: str, purpose: str, value: str) -> str:
        """HMAC-SHA256 of ``value`` under a key derived from the customer's data key.

        Equal values give equal indexes for one customer only; once the data key is
        destroyed nobody can test a guess against a stored index any more.
        """
        key = self._index_keys.get((customer_id, purpose))
        if key is None:
            found = uow.repo(DataKeys).get(customer_id)
            if found is None:
                raise KeyUnavailableError("the customer's data key was destroyed or never existed")
            dek = self._unwrap(customer_id, *found)
            label = b"postex-blind-index-v1|" + purpose.encode()
            key = hmac.new(dek, label, hashlib.sha256).digest()
            with self._guard:
                self._index_keys[(customer_id, purpose)] = key
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    def destroy(self, uow: UnitOfWork, customer_id: str) -> None:
        uow.repo(DataKeys).destroy(customer_id)
        with self._guard:
            self._cache.pop(customer_id, None)
            for k in [k for k in self._index_keys if k[0] == customer_id]:
                del self._index_keys[k]

    def forget_cached(self) -> None:
        with self._guard:
            self._cache.clear()
            self._index_keys.clear()

    def rotate(self, uow: UnitOfWork, progress: Progress | None = None) -> int:
        keys = uow.repo(DataKeys)
        done = 0
        for customer_id, kid, wrapped in keys.all():
            dek = self._unwrap(customer_id, kid, wrapped)
            new_kid, new_wrapped = self._wrap(customer_id, dek)
            keys.put(customer_id, new_kid, new_wrapped)
            done += 1
            if progress:
                progress(done)
        return done
