"""The authenticated log: a site's head MAC'd under a log key kept outside the database.

Each site has a 32-byte *log key* (HMAC-SHA256), kept in the key directory like the
signing key, never in the database. Every write transaction that appends checks, then
moves, the site's *authenticated head*: one row ``log_heads(site, seq, hash, mac)`` with

``mac = HMAC-SHA256(log key, L("postex-log-head-v1") ‖ L(site) ‖ L(seq) ‖ L(hash))``

(``L`` as in the hash chain: 4-byte big-endian length, then the bytes; ``seq`` as 8 bytes
big-endian). The chain links every event to its predecessor, so a valid MAC on the head
authenticates the whole log up to it: a rewritten history no longer ends in the MAC'd
hash, and events appended by anyone without the key lie past the MAC'd seq.

A *local anchor* (``anchor-<SITE>.json`` beside the key, the same form with the domain
``postex-log-anchor-v1``) holds the newest head the node committed: it is replaced after
every write transaction that appended. A log cut short below it, or different at its seq,
is found even when the head row and the checkpoints were rolled back together (an older
copy of the database put back): ``verify`` reports it and the next write is refused.
docs/log-format.md gives a test vector.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Protocol

HEAD_DOMAIN = "postex-log-head-v1"
ANCHOR_DOMAIN = "postex-log-anchor-v1"
KEY_SIZE = 32


def _field(raw: bytes) -> bytes:
    return struct.pack(">I", len(raw)) + raw


def head_message(domain: str, site: str, seq: int, hash_: bytes) -> bytes:
    """The MAC'd bytes: ``L(domain) ‖ L(site) ‖ L(seq as 8 bytes) ‖ L(hash)``."""
    return b"".join(
        (_field(domain.encode()), _field(site.encode()), _field(struct.pack(">Q", seq)),
         _field(hash_))
    )  # fmt: skip


class LogKey:
    """A site's log key (the secret never leaves this object)."""

    def __init__(self, site: str, secret: bytes) -> None:
        if len(secret) != KEY_SIZE:
            raise ValueError("a log key is 32 bytes")
        self.site = site
        self._secret = secret

    def mac(self, seq: int, hash_: bytes, domain: str = HEAD_DOMAIN) -> bytes:
        message = head_message(domain, self.site, seq, hash_)
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def valid(self, seq: int, hash_: bytes, mac: bytes, domain: str = HEAD_DOMAIN) -> bool:
        """Constant-time check of ``mac`` over (site, seq, hash)."""
        return hmac.compare_digest(self.mac(seq, hash_, domain), mac)


@dataclass(frozen=True)
class LogHead:
    """The authenticated head row of a site, as stored (its MAC not yet checked)."""

    site: str
    seq: int
    hash: bytes
    mac: bytes


@dataclass(frozen=True)
class Anchor:
    """The newest head this node vouched for, kept outside the database."""

    site: str
    seq: int
    hash: bytes
    mac: bytes


class LogAuthority(Protocol):
    """The sites' log keys and local anchors (the key directory)."""

    def key(self, site: str) -> LogKey | None:
        """The site's log key, or None when this node holds none for it (a hub's copies)."""
        ...

    def anchor(self, site: str) -> Anchor | None: ...

    def save_anchor(
        self, site: str, seq: int, hash_: bytes, *, force: bool = False, durable: bool = True
    ) -> None:
        """Record (seq, hash) as the site's anchor; it only moves forward unless ``force``
        (a restore, after the copy was verified); fsynced when ``durable``."""
        ...


class NoAuthority:
    """No log keys: a store opened only to read (a hub's database as a restore source)."""

    def key(self, site: str) -> LogKey | None:
        return None

    def anchor(self, site: str) -> Anchor | None:
        return None

    def save_anchor(
        self, site: str, seq: int, hash_: bytes, *, force: bool = False, durable: bool = True
    ) -> None:
        return None


def missing_head_fault(anchor: Anchor | None, log_seq: int) -> tuple[int, str] | None:
    """No head row: a new or just-upgraded log is trusted on first use, unless the local
    anchor says the site had an authenticated head already (the row was deleted)."""
    if anchor is None:
        return None
    return (
        min(anchor.seq, log_seq + 1) or 1,
        f"the authenticated head is missing but the local anchor holds seq {anchor.seq}",
    )


def head_fault(key: LogKey, head: LogHead, log_seq: int, log_hash: bytes) -> tuple[int, str] | None:
    """Whether a log ending at (``log_seq``, ``log_hash``) is the authenticated one.

    Returns (seq, reason) for the first problem, or None. ``log_hash`` must be the hash
    *recomputed* along the chain (verification) or the stored head (the write path, which
    then trusts only the link to it).
    """
    if head.site != key.site or not key.valid(head.seq, head.hash, head.mac):
        return head.seq or 1, "the authenticated head's MAC is not valid (written without the key)"
    if log_seq > head.seq:
        return head.seq + 1, (
            f"events {head.seq + 1}..{log_seq} are not authenticated "
            "(written without the site's log key)"
        )
    if log_seq < head.seq:
        return log_seq + 1, f"log ends at {log_seq} but the authenticated head is {head.seq}"
    if not hmac.compare_digest(log_hash, head.hash):
        return head.seq, "the log differs from its authenticated head (history rewritten)"
    return None


def anchor_fault(
    key: LogKey, anchor: Anchor | None, log_seq: int, hash_at_anchor: bytes | None
) -> tuple[int, str] | None:
    """Whether the log reaches the local anchor and agrees with it there."""
    if anchor is None:
        return None
    if not key.valid(anchor.seq, anchor.hash, anchor.mac, ANCHOR_DOMAIN):
        return anchor.seq or 1, "the local anchor's MAC is not valid"
    if log_seq < anchor.seq:
        return log_seq + 1, (
            f"log ends at {log_seq} but the local anchor holds {anchor.seq} "
            f"(anchor-{anchor.site}.json in the key directory): events were cut or an older "
            "copy of the database was put back"
        )
    if anchor.seq == 0:
        return None
    if hash_at_anchor is None or not hmac.compare_digest(hash_at_anchor, anchor.hash):
        return anchor.seq, (
            f"event differs from the local anchor (anchor-{anchor.site}.json in the key "
            "directory): the log was rewritten or another copy of the database was put back"
        )
    return None


def anchor_ahead_fault(
    anchor: Anchor | None, head_seq: int, head_hash: bytes
) -> tuple[int, str] | None:
    """The write path's check of the local anchor (its MAC is checked by ``verify``): a log
    whose head lies below the anchor, or differs at it, was cut or rolled back."""
    if anchor is None or anchor.seq < head_seq:
        return None
    where = f"anchor-{anchor.site}.json in the key directory"
    if anchor.seq > head_seq:
        return head_seq + 1, (
            f"log ends at {head_seq} but the local anchor holds {anchor.seq} ({where}): "
            "events were cut or an older copy of the database was put back"
        )
    if anchor.seq and not hmac.compare_digest(anchor.hash, head_hash):
        return head_seq, f"the log's head differs from the local anchor ({where})"
    return None
