"""The hub as a transparency-log witness: C2SP tlog-cosignature lines over site tree heads.

A witness cosigns a tree head only if it is consistent with the last one it cosigned for
that log: the same size needs the same root, a larger size needs a valid RFC 9162
consistency proof from the old head, a smaller one is refused. Two different roots for one
size, or a proof that fails, is a fork: the witness refuses and raises an integrity alarm
(``tree-fork``), which the console's network health shows with the other alarms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from postex.eventlog.merkle import verify_consistency
from postex.eventlog.notes import (
    DASH,
    ORIGIN_HOST,
    NoteError,
    NoteSigner,
    TreeHead,
    cosign_line,
    cosigned_by,
    origin_of,
    parse,
    signed_by_any,
)

Alarm = Callable[[str, int, str, str], None]  # (site, seq, kind, detail)


class CosignatureStore(Protocol):
    def last_cosigned(self, site: str, witness: str) -> tuple[int, bytes] | None: ...

    def save_cosignature(
        self, site: str, size: int, witness: str, root: bytes, line: str, at: str
    ) -> None: ...


@runtime_checkable
class CosignatureLog(Protocol):
    """A witness's stored cosignatures, read back for a site that fetches its own."""

    def cosigned_after(
        self, site: str, witness: str, after: int, limit: int
    ) -> list[tuple[int, str]]: ...


class TreeSource(Protocol):
    """The witness's own view of a site's tree (the hub: its verified copy)."""

    def root(self, site: str, size: int | None = None) -> tuple[int, bytes]: ...

    def consistency(self, site: str, old: int, new: int) -> tuple[bytes, bytes, list[bytes]]: ...


@dataclass
class TreeWitness:
    """Cosigns tree heads that extend the last one it cosigned; alarms on a fork."""

    name: str  # the witness's key name, e.g. postex.example/witness/HUB
    signer: NoteSigner
    store: CosignatureStore
    alarm: Alarm
    unix_now: Callable[[], int]
    stamp: Callable[[], str]  # RFC 3339 time for the stored row

    def add_checkpoint(
        self, site: str, text: str, proof: Sequence[bytes], site_keys: Mapping[str, bytes]
    ) -> str | None:
        """A site's signed checkpoint note and a consistency proof from the last head this
        witness cosigned: the cosignature line, or None (refused)."""
        try:
            head, _ = parse(text)
        except NoteError as exc:
            self.alarm(site, 0, "bad-sig", f"tree head refused: {exc}")
            return None
        if head.origin != origin_of(site) or not signed_by_any(text, head.origin, site_keys):
            self.alarm(site, head.size, "bad-sig", "tree head not signed by a key of the site")
            return None
        return self.cosign(site, head, proof)

    def cosign(self, site: str, head: TreeHead, proof: Sequence[bytes]) -> str | None:
        """Cosign ``head`` (already authenticated) if it extends the last cosigned head."""
        last = self.store.last_cosigned(site, self.name)
        if last is not None:
            size, root = last
            if head.size < size:
                return None  # older than what the witness vouched for: nothing to add
            if head.size == size and head.root != root:
                self.alarm(
                    site, size, "tree-fork",
                    f"two different trees of size {size} (root {root.hex()[:16]}… cosigned, "
                    f"{head.root.hex()[:16]}… presented)",
                )  # fmt: skip
                return None
            if head.size > size and not verify_consistency(size, head.size, proof, root, head.root):
                self.alarm(
                    site, size + 1, "tree-fork",
                    f"tree of size {head.size} is not consistent with the cosigned size {size}",
                )  # fmt: skip
                return None
        line = cosign_line(head, self.name, self.signer, self.unix_now())
        self.store.save_cosignature(site, head.size, self.name, head.root, line, self.stamp())
        return line


@dataclass
class CopyWitness:
    """The hub's witnessing of its verified copies: the tree head at a checkpoint it
    countersigned, with the consistency proof from its own copy."""

    witness: TreeWitness
    tree: TreeSource

    def witness_copy(self, site: str, size: int) -> str | None:
        try:
            last = self.witness.store.last_cosigned(site, self.witness.name)
            _, root = self.tree.root(site, size)
            proof: list[bytes] = []
            if last is not None and 0 < last[0] < size:
                proof = self.tree.consistency(site, last[0], size)[2]
        except (LookupError, ValueError) as exc:  # the copy lacks an event the tree needs
            self.witness.alarm(site, size, "tree-fork", f"tree head not computable: {exc}")
            return None
        return self.witness.cosign(site, TreeHead(origin_of(site), size, root), proof)


def check_cosignature(note_text: str, line: str, witness_keys: Mapping[str, bytes]) -> str | None:
    """The witness name of ``line`` if it is one well-formed C2SP cosignature/v1 line over
    the tree head of ``note_text`` (the site's own signed note) by one of ``witness_keys``
    (the keys the site trusts under ``HUB``); None for anything else (a forged line)."""
    if not line.startswith(DASH) or not line.endswith("\n") or line.count("\n") != 1:
        return None
    name = line.removeprefix(DASH).partition(" ")[0]
    if not name.startswith(f"{ORIGIN_HOST}/witness/"):
        return None
    try:
        parse(note_text + line)
    except NoteError:
        return None
    text = note_text + line
    if any(cosigned_by(text, name, raw) is not None for raw in witness_keys.values()):
        return name
    return None
