"""Envelope encryption of personal data: AES-256-GCM under per-customer data keys.

A data key (32 random bytes) is wrapped with AES-256-GCM under the KEK, with the
customer id as associated data, and stored in ``data_keys``. Sealed values are
``v1.<base64url(nonce ‖ ciphertext ‖ tag)>`` with the caller's associated data (e.g. the
customer and item id), so a ciphertext moved to another item does not open.
Destroying a customer's data key makes every value sealed under it unreadable.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from postex.adapters.keys.kek import KekProvider
from postex.app.ports import DataKeys, Progress, UnitOfWork
from postex.domain.errors import KeyUnavailableError

PREFIX = "v1."


class EnvelopeVault:
    def __init__(self, kek: KekProvider) -> None:
        self.kek = kek
        self._cache: dict[str, AESGCM] = {}
        self._guard = threading.Lock()

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

    def seal(self, uow: UnitOfWork, customer_id: str, aad: str, data: Mapping[str, Any]) -> str:
        plain = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        nonce = secrets.token_bytes(12)
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
        result: dict[str, Any] = json.loads(plain)
        return result

    def destroy(self, uow: UnitOfWork, customer_id: str) -> None:
        uow.repo(DataKeys).destroy(customer_id)
        with self._guard:
            self._cache.pop(customer_id, None)

    def forget_cached(self) -> None:
        with self._guard:
            self._cache.clear()

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
