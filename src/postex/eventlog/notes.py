"""Tree heads as C2SP signed notes: ``tlog-checkpoint`` bodies, Ed25519 note signatures and
``tlog-cosignature`` (cosignature/v1) witness lines.

A checkpoint body is three lines, each ending in LF::

    postex.example/GBLALA        origin: the log's name (host / site code)
    1000                         tree size (the number of events)
    <base64 of the 32-byte root>

A signed note is the body, an empty line, then one line per signature:
``— <key name> <base64(key id ‖ signature)>`` (U+2014 EM DASH, a space). For the site's
Ed25519 key the key id is ``SHA-256(name ‖ LF ‖ 0x01 ‖ public key)[:4]`` and the signature
covers the body. A witness's cosignature uses the type byte 0x04 in its key id, and signs
``cosignature/v1 LF time <unix seconds> LF`` followed by the body; its signature field is
the 8-byte big-endian timestamp then the 64-byte signature. docs/log-format.md has vectors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from postex.eventlog.checkpoints import ed25519_valid

ORIGIN_HOST = "postex.example"
ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014 "


class NoteSigner(Protocol):
    @property
    def public(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class TreeHead:
    origin: str
    size: int
    root: bytes

    @property
    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def origin_of(site: str, host: str = ORIGIN_HOST) -> str:
    return f"{host}/{site}"


def key_id(name: str, public: bytes, kind: int = ED25519) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


def _line(name: str, payload: bytes) -> str:
    return f"{DASH}{name} {base64.b64encode(payload).decode()}\n"


def sign_line(head: TreeHead, name: str, signer: NoteSigner) -> str:
    """The note signature line of ``signer`` (named ``name``) over ``head``'s body."""
    return _line(name, key_id(name, signer.public) + signer.sign(head.body.encode()))


def cosign_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign_line(head: TreeHead, name: str, signer: NoteSigner, timestamp: int) -> str:
    """A C2SP tlog-cosignature (cosignature/v1) line over ``head`` at ``timestamp``."""
    sig = signer.sign(cosign_message(head.body, timestamp))
    return _line(
        name, key_id(name, signer.public, COSIGNATURE_V1) + struct.pack(">Q", timestamp) + sig
    )


def note(head: TreeHead, *lines: str) -> str:
    return head.body + "\n" + "".join(lines)


class NoteError(ValueError):
    """A note that is not a well-formed checkpoint."""


def parse(text: str) -> tuple[TreeHead, list[tuple[str, bytes]]]:
    """The tree head of a signed checkpoint note and its signature lines (name, payload)."""
    body, sep, sigs = text.partition("\n\n")
    if not sep:
        raise NoteError("no blank line before the signatures")
    lines = body.split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a size and a root hash")
    origin, size, root_b64 = lines[:3]
    if not size.isdigit() or (size != "0" and size.startswith("0")):
        raise NoteError("the tree size is not a decimal number")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error:
        raise NoteError("the root hash is not base64") from None
    if len(root) != 32 or lines[3:]:
        raise NoteError("the root hash is not 32 bytes (or the body has extension lines)")
    out: list[tuple[str, bytes]] = []
    for line in sigs.split("\n"):
        if not line:
            continue
        name, _, payload = line.removeprefix(DASH).partition(" ")
        if not line.startswith(DASH) or not name or not payload:
            raise NoteError("a signature line is malformed")
        try:
            out.append((name, base64.b64decode(payload, validate=True)))
        except binascii.Error:
            raise NoteError("a signature is not base64") from None
    return TreeHead(origin, int(size), root), out


def signed_by(text: str, name: str, public: bytes) -> bool:
    """Whether the note carries a valid Ed25519 note signature by (name, public key)."""
    head, sigs = parse(text)
    kid = key_id(name, public)
    return any(
        n == name
        and p[:4] == kid
        and len(p) == 68
        and ed25519_valid(public, p[4:], head.body.encode())
        for n, p in sigs
    )


def cosigned_by(text: str, name: str, public: bytes) -> int | None:
    """The timestamp of a valid cosignature/v1 by (name, public key), or None."""
    head, sigs = parse(text)
    kid = key_id(name, public, COSIGNATURE_V1)
    for n, p in sigs:
        if n == name and p[:4] == kid and len(p) == 76:
            (timestamp,) = struct.unpack(">Q", p[4:12])
            if ed25519_valid(public, p[12:], cosign_message(head.body, timestamp)):
                return int(timestamp)
    return None


def signed_by_any(text: str, name: str, keys: Mapping[str, bytes]) -> bool:
    """Whether one of ``keys`` (public keys by any id) signed the note as ``name``."""
    return any(signed_by(text, name, raw) for raw in keys.values())
