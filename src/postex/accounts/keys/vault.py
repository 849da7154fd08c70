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
import weakref
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from postex.accounts.keys.key_encryption_key import KekProvider
from postex.eventlog.ports import DataKeys, Progress, UnitOfWork
from postex.kernel.errors import KeyUnavailableError

PREFIX = "v1."
NONCE_BLOCK = 1000


class EnvelopeVault:
    """Seals and opens personal data under customers' data keys.

    Unwrapped keys are cached by their wrapped form, but every transaction that uses a
    customer's key first reads the customer's row in ``data_keys`` (once per transaction):
    an erasure by another process (`postex customers erase`) takes effect at this process's
    next transaction, and a re-wrap (`postex keys rotate`) is picked up the same way.
    """

    def __init__(self, kek: KekProvider) -> None:
        self.kek = kek
        self._cache: dict[tuple[str, str, bytes], bytes] = {}  # (customer, KEK id, wrapped)
        self._in_uow: weakref.WeakKeyDictionary[UnitOfWork, dict[str, bytes]] = (
            weakref.WeakKeyDictionary()
        )
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

    def _data_key(self, uow: UnitOfWork, customer_id: str) -> bytes:
        """The customer's data key, checked against the store once per transaction."""
        with self._guard:
            checked = self._in_uow.setdefault(uow, {})
            dek = checked.get(customer_id)
        if dek is not None:
            return dek
        dek = self._stored_key(uow.repo(DataKeys), customer_id)
        with self._guard:
            checked[customer_id] = dek
        return dek

    def _stored_key(self, keys: DataKeys, customer_id: str) -> bytes:
        found = keys.get(customer_id)
        if found is None:
            self._forget(customer_id)
            raise KeyUnavailableError("the customer's data key was destroyed or never existed")
        kid, wrapped = found
        dek = self._cache.get((customer_id, kid, wrapped))
        if dek is None:
            dek = self._unwrap(customer_id, kid, wrapped)
            with self._guard:
                self._cache[(customer_id, kid, wrapped)] = dek
        return dek

    def _aead(self, uow: UnitOfWork, customer_id: str) -> AESGCM:
        return AESGCM(self._data_key(uow, customer_id))

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

    def open_with(self, keys: DataKeys, customer_id: str, aad: str, token: str) -> dict[str, Any]:
        """:meth:`open` with the data keys of a connection (a projection handler, which has
        no unit of work): the key is read from ``keys`` every time."""
        if not token.startswith(PREFIX):
            raise KeyUnavailableError("not a sealed value")
        blob = base64.urlsafe_b64decode(token[len(PREFIX) :])
        try:
            aead = AESGCM(self._stored_key(keys, customer_id))
            plain = aead.decrypt(blob[:12], blob[12:], aad.encode())
        except InvalidTag:
            raise KeyUnavailableError("sealed value does not open (tampered or moved)") from None
        result: dict[str, Any] = orjson.loads(plain)
        return result

    def blind_index(self, uow: UnitOfWork, customer_id: str, purpose: str, value: str) -> str:
        """HMAC-SHA256 of ``value`` under a key derived from the customer's data key.

        Equal values give equal indexes for one customer only; once the data key is
        destroyed nobody can test a guess against a stored index any more.
        """
        label = b"postex-blind-index-v1|" + purpose.encode()
        key = hmac.new(self._data_key(uow, customer_id), label, hashlib.sha256).digest()
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    def destroy(self, uow: UnitOfWork, customer_id: str) -> None:
        uow.repo(DataKeys).destroy(customer_id)
        self._forget(customer_id)

    def _forget(self, customer_id: str) -> None:
        with self._guard:
            for k in [k for k in self._cache if k[0] == customer_id]:
                del self._cache[k]
            for checked in self._in_uow.values():
                checked.pop(customer_id, None)

    def forget_cached(self) -> None:
        with self._guard:
            self._cache.clear()
            self._in_uow.clear()

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
