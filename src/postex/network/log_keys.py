"""Site log keys and local anchors, kept as 0600 files in the key directory.

``log-<SITE>.json`` holds the site's 32-byte log key (HMAC-SHA256) that authenticates its
log's head (:mod:`postex.eventlog.authlog`); ``anchor-<SITE>.json`` holds the newest head
the node committed, MAC'd under that key, in two 512-byte slots written in turn, in
place, after every write that appended (docs/log-format.md). Neither is ever in the
database or a backup: someone who can write the database cannot write them. ``rows.json``
holds the node's row-MAC key (credentials, staff users and sessions), kept the same way.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from postex.accounts.keys.files import read_secret, write_secret
from postex.eventlog.authlog import ANCHOR_DOMAIN, KEY_SIZE, Anchor, LogKey
from postex.kernel.errors import ConfigurationError
from postex.kernel.private import private_dir


def log_key_path(keys_dir: Path, site: str) -> Path:
    return keys_dir / f"log-{site}.json"


def anchor_path(keys_dir: Path, site: str) -> Path:
    return keys_dir / f"anchor-{site}.json"


def load_or_create_log_key(keys_dir: Path, site: str) -> LogKey:
    path = log_key_path(keys_dir, site)
    if not path.exists():
        secret = secrets.token_bytes(KEY_SIZE)
        write_secret(path, {"site": site, "key": base64.b64encode(secret).decode()})
        return LogKey(site, secret)
    data = read_secret(path)
    return LogKey(site, base64.b64decode(data["key"]))


ROW_KEY_FILE = "rows.json"


def load_or_create_row_key(keys_dir: Path) -> bytes:
    """The node's row-MAC key (``rows.json``, 32 bytes; :mod:`postex.eventlog.sql.row_mac`).

    One per node, whatever site a command is run for, so every process of the node (and a
    rebuild run from the CLI) MACs the same way. Made by ``postex init``; a node that lost
    it makes a new one, and refuses every MAC'd row until ``postex rebuild``.
    """
    path = keys_dir / ROW_KEY_FILE
    if not path.exists():
        secret = secrets.token_bytes(KEY_SIZE)
        try:
            write_secret(path, {"v": 1, "key": base64.b64encode(secret).decode()})
            return secret
        except FileExistsError:
            pass  # another process of the node made it just now: read theirs
    return base64.b64decode(read_secret(path)["key"])


class FileLogAuthority:
    """:class:`postex.eventlog.authlog.LogAuthority` on the key directory.

    ``holds(site)`` says for which sites this node keeps a log key: a site node its own, a
    single node every site it plays, a hub only its own log (it checks the sites' copies by
    their signatures). A missing key file of such a site is created (``postex init``, or the
    first run after an upgrade: the log is then trusted on first use).
    """

    def __init__(self, keys_dir: Path, holds: Callable[[str], bool]) -> None:
        self.keys_dir = keys_dir
        self._holds = holds
        self._keys: dict[str, LogKey] = {}
        self._lock = threading.RLock()  # save_anchor holds it while anchor() may call key()
        # the anchor as last read or written, by the file's (inode, mtime, size): a write
        # transaction checks it with one stat; another process's replace is a new inode
        # with the seq each slot holds (-1: torn or a MAC that does not hold), so a write
        # picks the older slot without reading the file again
        self._anchors: dict[str, tuple[tuple[int, int, int], list[int], Anchor]] = {}
        self._fds: dict[str, tuple[int, int]] = {}  # site -> (descriptor, its inode)
        self._paths: dict[str, Path] = {}

    def key(self, site: str) -> LogKey | None:
        if not self._holds(site):
            return None
        with self._lock:
            if site not in self._keys:
                self._keys[site] = load_or_create_log_key(self.keys_dir, site)
            return self._keys[site]

    def anchor(self, site: str) -> Anchor | None:
        """The newest slot of ``anchor-<SITE>.json`` whose MAC holds (or, when none does, the
        newest slot: ``verify`` then reports its MAC), cached by the file's stat."""
        path = self._path(site)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._anchors.pop(site, None)
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._anchors.get(site)
        if cached is not None and cached[0] == stamp:
            return cached[2]
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(f"key file {path} is readable by others; chmod 600 it")
        slots = _parse_slots(path.read_bytes())
        key = self.key(site)
        anchor = _newest(site, slots, key)
        seqs = [-1 if key is None else _valid_seq(a, key) for a in slots]
        self._anchors[site] = (stamp, seqs, anchor)
        return anchor

    def save_anchor(
        self, site: str, seq: int, hash_: bytes, *, force: bool = False, durable: bool = True
    ) -> None:
        """Write (seq, hash, MAC) into the older of the file's two slots, in place (one
        512-byte write: the other slot stays whole whatever happens to this one); fsynced
        when ``durable``. It only moves forward unless ``force`` (which rewrites the file).

        A write that is not ``durable`` (after an append) trusts the anchor as the write
        transaction's own check left it (one ``stat`` then) and writes through a file
        descriptor kept open on that very file: at worst, with another process of the node
        writing too, the anchor lags a write, never runs ahead of the log.
        """
        key = self.key(site)
        if key is None:
            return
        with self._lock:
            path = self._path(site)
            cached = self._anchors.get(site)
            if durable or force or cached is None:
                current = self.anchor(site)
                cached = self._anchors.get(site)
            else:
                current = cached[2]
            if not force and current is not None and current.seq >= seq:
                return  # another process of this node went further already
            mac = key.mac(seq, hash_, ANCHOR_DOMAIN)
            record = _slot(site, seq, hash_, mac)
            if cached is None or force or len(cached[1]) != 2:  # new, version 1, or forced
                self._close(site)
                _replace_private(path, record + record, durable)
                seqs = [seq, seq]
                st = path.stat()
            else:
                older = 0 if cached[1][0] <= cached[1][1] else 1  # a torn slot (-1) first
                fd = self._fd(site, path, cached[0][0])
                os.pwrite(fd, record, older * SLOT)
                if durable:
                    os.fsync(fd)
                seqs = [seq if i == older else cached[1][i] for i in (0, 1)]
                st = os.fstat(fd)
            written = Anchor(site, seq, hash_, mac)
            self._anchors[site] = ((st.st_ino, st.st_mtime_ns, st.st_size), seqs, written)

    def _path(self, site: str) -> Path:
        path = self._paths.get(site)
        if path is None:
            path = self._paths[site] = anchor_path(self.keys_dir, site)
        return path

    def _fd(self, site: str, path: Path, inode: int) -> int:
        """A descriptor open for writing on the anchor file whose inode is ``inode``."""
        held = self._fds.get(site)
        if held is not None and held[1] == inode:
            return held[0]
        self._close(site)
        fd = os.open(path, os.O_WRONLY)
        self._fds[site] = (fd, os.fstat(fd).st_ino)
        return fd

    def _close(self, site: str) -> None:
        held = self._fds.pop(site, None)
        if held is not None:
            os.close(held[0])

    def close(self) -> None:
        """Close the descriptors kept on anchor files (the store's ``dispose``)."""
        with self._lock:
            for site in list(self._fds):
                self._close(site)


SLOT = 512  # bytes per slot: one sector, written with one pwrite


def _slot(site: str, seq: int, hash_: bytes, mac: bytes) -> bytes:
    site_json = json.dumps(site)  # a site code: ASCII letters and digits
    raw = (f'{{"v":2,"site":{site_json},"seq":{seq},"hash":"{hash_.hex()}",'
           f'"mac":"{mac.hex()}"}}').encode()  # fmt: skip
    return raw.ljust(SLOT - 1) + b"\n"


def _parse_slots(raw: bytes) -> list[Anchor | None]:
    """The file's slots (None for one that does not parse); a version-1 file (one JSON
    object) is one slot."""
    if len(raw) % SLOT == 0 and raw[SLOT - 1 : SLOT] == b"\n":
        parts = [raw[i : i + SLOT] for i in range(0, len(raw), SLOT)]
    else:
        parts = [raw]
    slots: list[Anchor | None] = []
    for part in parts:
        try:
            data = json.loads(part)
            slots.append(
                Anchor(str(data["site"]), int(data["seq"]), bytes.fromhex(data["hash"]),
                       bytes.fromhex(data["mac"]))
            )  # fmt: skip
        except (ValueError, KeyError, TypeError):
            slots.append(None)  # torn by a crash while written: the other slot stands
    return slots


def _valid_seq(anchor: Anchor | None, key: LogKey) -> int:
    if anchor is None or not key.valid(anchor.seq, anchor.hash, anchor.mac, ANCHOR_DOMAIN):
        return -1
    return anchor.seq


def _newest(site: str, slots: list[Anchor | None], key: LogKey | None) -> Anchor:
    parsed = [a for a in slots if a is not None]
    if key is not None:
        valid = [a for a in parsed if _valid_seq(a, key) >= 0]
        parsed = valid or parsed
    if not parsed:
        return Anchor(site, 0, bytes(32), b"")  # nothing readable: verify reports its MAC
    return max(parsed, key=lambda a: a.seq)


def _replace_private(path: Path, payload: bytes, durable: bool) -> None:
    """Write ``payload`` to a 0600 file beside ``path`` and rename it over ``path``: a reader
    sees the old file or the new one, never a part."""
    private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, payload)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
