"""Backup directories: ``manifest.json`` (+ ``manifest.sig``), gzip segments, checkpoints.

Layout::

    DIR/manifest.json            what is in the backup, with the SHA-256 of every file
    DIR/manifest.sig             base64 Ed25519 signature of manifest.json by the node's key
    DIR/<SITE>/events-<first>-<last>.jsonl.gz   one JSON array per event (wire row format)
    DIR/<SITE>/checkpoints.json  the site's signed checkpoints
    DIR/<SITE>/witnesses.json    the hub's countersignatures held by this node
    DIR/data-keys.json           wrapped data keys (useless without the KEK, never included)

Segments are gzip (level 3): zstd would be faster but is not a dependency of Postex.

An incremental backup (``postex backup --to DIR --since BASE``) has the same layout but
only the events after BASE's head of each site; its manifest names BASE (directory name,
path, SHA-256 of BASE's manifest) and each site's ``from_seq``. Checkpoints, witnesses and
data keys are always written whole (they are small, and erasures must reach them). A
:class:`BackupChain` follows the ``base`` links back to the full backup and reads the chain
as one log, so verification and restore work on an incremental like on a full backup.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from postex.eventlog.authlog import LogAuthority
from postex.eventlog.checkpoints import Signer
from postex.eventlog.events import Checkpoint, StoredEvent
from postex.eventlog.ports import LogAdmin, Progress, Store
from postex.eventlog.verify import LogChecker
from postex.kernel.errors import IntegrityError, ValidationError
from postex.kernel.private import private_dir, private_file
from postex.network.app.hub import ReplicationState
from postex.network.app.integrity import site_auth
from postex.network.app.wire import DataKey, checkpoint_dict, checkpoint_from
from postex.network.app.witness import Witness

FORMAT = "postex-backup-v1"
SEGMENT_EVENTS = 100_000
READ_BATCH = 10_000


def _batched(events: Iterator[StoredEvent]) -> Iterator[list[StoredEvent]]:
    while batch := list(itertools.islice(events, READ_BATCH)):
        yield batch


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _row(e: StoredEvent) -> str:
    return json.dumps(
        [e.seq, e.recorded_at, e.type, base64.b64encode(e.body).decode(), e.prev_hash.hex(),
         e.hash.hex()]
    )  # fmt: skip


@dataclass
class FileBackupWriter:
    store: Store
    admin: LogAdmin
    state: ReplicationState
    signer: Signer
    created_at: str
    authority: LogAuthority | None = None  # the sites' log keys: only authenticated logs

    def write(
        self, directory: Path, progress: Progress | None = None, since: Path | None = None
    ) -> dict[str, int]:
        """Write every site's log (after ``since``'s heads: an incremental backup).

        Every link and hash is checked as the events are written and, for every site whose
        log key this node holds, the log must end at its authenticated head and reach its
        anchor: a tampered log is never backed up (IntegrityError; no manifest is written,
        so the directory is no backup).
        """
        base = self._base(directory, since)
        private_dir(directory)
        if (directory / "manifest.json").exists():
            raise ValidationError.single("to", "empty", str(directory), "holds a backup already")
        manifest: dict[str, Any] = {
            "format": FORMAT, "created_at": self.created_at, "key_id": self.signer.key_id,
            "sites": {},
        }  # fmt: skip
        if base is not None and since is not None:
            manifest["base"] = {
                "name": since.name, "path": str(since.resolve()),
                "manifest_sha256": _sha256(since / "manifest.json"),
            }  # fmt: skip
        heads: dict[str, int] = {}
        done = 0
        sites = self.store.sites()
        for site in base.sites() if base is not None else []:
            if site not in sites:
                raise IntegrityError(f"the base backup holds site {site}; this store does not")
        for site in sites:
            head, head_hash = self.store.head(site)
            start = self._start(base, site, head) if base is not None else 0
            begin = (start, bytes.fromhex(base.head_hash(site))) if base and start else None
            checker = LogChecker(site, site_auth(self.store, self.authority, site), begin)
            site_dir = directory / site
            private_dir(site_dir)
            segments: list[dict[str, Any]] = []
            for first in range(start + 1, head + 1, SEGMENT_EVENTS):
                last = min(head, first + SEGMENT_EVENTS - 1)
                path = site_dir / f"events-{first:012d}-{last:012d}.jsonl.gz"
                with gzip.open(private_file(path), "wt", compresslevel=3, encoding="ascii") as f:
                    for batch in _batched(
                        self.store.read_events(site, first - 1, last, batch=READ_BATCH)
                    ):
                        checker.feed(batch)
                        f.write("".join(_row(e) + "\n" for e in batch))
                        done += len(batch)
                        if progress:
                            progress(done)
                segments.append(
                    {"file": f"{site}/{path.name}", "first": first, "last": last,
                     "sha256": _sha256(path)}
                )  # fmt: skip
            try:
                checker.finish()
            except IntegrityError as exc:
                raise IntegrityError(
                    f"backup refused: {exc.detail}", site=exc.site, seq=exc.seq
                ) from None
            cps = [checkpoint_dict(cp) for cp in self.store.checkpoints(site) if cp.seq <= head]
            wits = [
                {"site": w.site, "seq": w.seq, "witnessed_at": w.witnessed_at,
                 "key_id": w.key_id, "signature": base64.b64encode(w.signature).decode()}
                for w in self.state.witnesses(site) if w.seq <= head
            ]  # fmt: skip
            manifest["sites"][site] = {
                "head_seq": head, "head_hash": head_hash.hex(), "segments": segments,
                "from_seq": start + 1,
                "checkpoints": self._json(directory, f"{site}/checkpoints.json", cps),
                "witnesses": self._json(directory, f"{site}/witnesses.json", wits),
            }  # fmt: skip
            heads[site] = head
        keys = [
            [c, k, base64.b64encode(w).decode(), at]
            for c, k, w, at in self.admin.export_data_keys()
        ]
        manifest["data_keys"] = self._json(directory, "data-keys.json", keys)
        body = json.dumps(manifest, indent=1, sort_keys=True).encode()
        private_file(directory / "manifest.json").write_bytes(body)
        private_file(directory / "manifest.sig").write_text(
            base64.b64encode(self.signer.sign(body)).decode()
        )
        if progress:
            progress(done)
        return heads

    @staticmethod
    def _base(directory: Path, since: Path | None) -> BackupChain | None:
        if since is None:
            return None
        if since.resolve() == directory.resolve():
            raise ValidationError.single("since", "other", str(since), "must differ from --to")
        try:
            return BackupChain(since)
        except IntegrityError as exc:
            raise ValidationError.single("since", "backup", str(since), exc.detail) from None

    def _start(self, base: BackupChain, site: str, head: int) -> int:
        """The base's head of ``site``, after checking this log still continues it."""
        if site not in base.sites():
            return 0
        start, want = base.head(site), base.head_hash(site)
        if start > head:
            raise IntegrityError(
                f"the base backup reaches {site} seq {start}, beyond this store's head {head}",
                site=site, seq=head + 1,
            )  # fmt: skip
        if start:
            ours = next(iter(self.store.read_events(site, start - 1, start, batch=1)), None)
            if ours is None or ours.hash.hex() != want:
                raise IntegrityError(
                    f"this store's log of {site} differs from the base backup at seq {start}",
                    site=site, seq=start,
                )  # fmt: skip
        return start

    def _json(self, directory: Path, name: str, data: Any) -> dict[str, str]:
        path = directory / name
        private_file(path).write_text(json.dumps(data, sort_keys=True))
        return {"file": name, "sha256": _sha256(path)}


class BackupDirectory:
    """A backup opened for verification or restore (a :class:`RestoreSource`)."""

    kind = "backup"

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        try:
            self._raw = (directory / "manifest.json").read_bytes()
            self.manifest: dict[str, Any] = json.loads(self._raw)
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"{directory} holds no readable backup manifest: {exc}") from None
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT:
            raise IntegrityError(f"{directory}/manifest.json is not a {FORMAT} manifest")

    def check_manifest(self, trusted: Mapping[str, bytes]) -> None:
        key_id = str(self.manifest.get("key_id", ""))
        raw = trusted.get(key_id)
        if raw is None:
            raise IntegrityError(
                f"the backup is signed by {key_id}, a key this node does not trust"
            )
        try:
            sig = base64.b64decode((self.dir / "manifest.sig").read_text())
            Ed25519PublicKey.from_public_bytes(raw).verify(sig, self._raw)
        except (OSError, ValueError, InvalidSignature):
            raise IntegrityError("the backup manifest's signature is not valid") from None

    def sites(self) -> list[str]:
        return sorted(self.manifest.get("sites", {}))

    def _site(self, site: str) -> dict[str, Any]:
        found = self.manifest.get("sites", {}).get(site)
        if found is None:
            raise IntegrityError(f"the backup holds no log for site {site}")
        return dict(found)

    def _open(self, entry: Mapping[str, Any]) -> Path:
        path = self.dir / str(entry["file"])
        if not path.is_file() or _sha256(path) != entry["sha256"]:
            raise IntegrityError(f"backup file {entry['file']} is missing or altered")
        return path

    def head(self, site: str) -> int:
        return int(self._site(site)["head_seq"])

    def head_hash(self, site: str) -> str:
        return str(self._site(site)["head_hash"])

    def from_seq(self, site: str) -> int:
        """The first seq of ``site`` in this directory (1, or after the base's head)."""
        return int(self._site(site).get("from_seq", 1))

    @property
    def base(self) -> dict[str, Any] | None:
        found = self.manifest.get("base")
        return dict(found) if isinstance(found, dict) else None

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self._raw).hexdigest()

    def batches(self, site: str) -> Iterator[Sequence[StoredEvent]]:
        for seg in self._site(site)["segments"]:
            path = self._open(seg)
            batch: list[StoredEvent] = []
            with gzip.open(path, "rt", encoding="ascii") as f:
                for line in f:
                    r = json.loads(line)
                    batch.append(
                        StoredEvent(site, r[0], r[1], r[2], base64.b64decode(r[3]),
                                    bytes.fromhex(r[4]), bytes.fromhex(r[5]))
                    )  # fmt: skip
                    if len(batch) >= READ_BATCH:
                        yield batch
                        batch = []
            if batch:
                yield batch

    def _load(self, entry: Mapping[str, Any]) -> Any:
        return json.loads(self._open(entry).read_text())

    def checkpoints(self, site: str) -> list[Checkpoint]:
        return [checkpoint_from(d) for d in self._load(self._site(site)["checkpoints"])]

    def witnesses(self, site: str) -> list[Witness]:
        return [
            Witness(
                d["site"],
                d["seq"],
                d["witnessed_at"],
                d["key_id"],
                base64.b64decode(d["signature"]),
            )
            for d in self._load(self._site(site)["witnesses"])
        ]

    def data_keys(self, site: str) -> list[DataKey]:
        del site  # a backup is of one node, whose keys are all its sites'
        return [
            (c, k, base64.b64decode(w), at)
            for c, k, w, at in self._load(self.manifest["data_keys"])
        ]


MAX_CHAIN = 1000  # incremental backups on one full backup


class BackupChain:
    """A backup and the incrementals it rests on, read as one (a :class:`RestoreSource`).

    ``directory`` may be a full backup (a chain of one) or an incremental: its ``base`` is
    looked up beside it by name, then at the path recorded when it was written. Events come
    from every member in order; checkpoints, witnesses and data keys from the newest.
    """

    kind = "backup"

    def __init__(self, directory: Path) -> None:
        members = [BackupDirectory(directory)]
        while (link := members[-1].base) is not None:
            if len(members) >= MAX_CHAIN:
                raise IntegrityError(f"{directory}: more than {MAX_CHAIN} linked backups")
            members.append(BackupDirectory(self._find(members[-1].dir, link)))
        self.members = list(reversed(members))  # the full backup first
        self.newest = members[0]
        self.dir = directory

    @staticmethod
    def _find(incremental: Path, link: Mapping[str, Any]) -> Path:
        candidates = [incremental.parent / str(link.get("name", "")), Path(str(link.get("path")))]
        for path in candidates:
            if (path / "manifest.json").is_file():
                return path
        raise IntegrityError(
            f"{incremental} is an incremental backup on {link.get('name')}, which is not "
            f"beside it nor at {link.get('path')}: put the base backup back first"
        )

    def check_manifest(self, trusted: Mapping[str, bytes]) -> None:
        """Every manifest's signature, and every link naming exactly its base's manifest."""
        for older, newer in itertools.pairwise(self.members):
            link = newer.base or {}
            if link.get("manifest_sha256") != older.manifest_sha256:
                raise IntegrityError(
                    f"{newer.dir} was taken on a different backup than {older.dir} "
                    "(its manifest changed)"
                )
        for member in self.members:
            member.check_manifest(trusted)

    def sites(self) -> list[str]:
        return self.newest.sites()

    def head(self, site: str) -> int:
        return self.newest.head(site)

    def head_hash(self, site: str) -> str:
        return self.newest.head_hash(site)

    def batches(self, site: str) -> Iterator[Sequence[StoredEvent]]:
        for member in self.members:
            if site in member.sites():
                yield from member.batches(site)

    def checkpoints(self, site: str) -> list[Checkpoint]:
        return self.newest.checkpoints(site)

    def witnesses(self, site: str) -> list[Witness]:
        return self.newest.witnesses(site)

    def data_keys(self, site: str) -> list[DataKey]:
        return self.newest.data_keys(site)
