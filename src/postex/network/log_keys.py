"""Site log keys and local anchors, kept as 0600 files in the key directory.

``log-<SITE>.json`` holds the site's 32-byte log key (HMAC-SHA256) that authenticates its
log's head (:mod:`postex.eventlog.authlog`); ``anchor-<SITE>.json`` holds the newest head
the node committed, MAC'd under that key, replaced atomically after every write that
appended. Neither is ever in the database or a backup: someone who can write the database
cannot write them.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from postex.accounts.keys.files import read_secret, write_secret
from postex.eventlog.authlog import ANCHOR_DOMAIN, KEY_SIZE, Anchor, LogKey
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
        self._lock = threading.Lock()
        # the anchor as last read or written, by the file's (inode, mtime, size): a write
        # transaction checks it with one stat; another process's replace is a new inode
        self._anchors: dict[str, tuple[tuple[int, int, int], Anchor]] = {}

    def key(self, site: str) -> LogKey | None:
        if not self._holds(site):
            return None
        with self._lock:
            if site not in self._keys:
                self._keys[site] = load_or_create_log_key(self.keys_dir, site)
            return self._keys[site]

    def anchor(self, site: str) -> Anchor | None:
        path = anchor_path(self.keys_dir, site)
        try:
            st = path.stat()
        except FileNotFoundError:
            self._anchors.pop(site, None)
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._anchors.get(site)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        data = read_secret(path)
        anchor = Anchor(
            str(data["site"]), int(data["seq"]), bytes.fromhex(data["hash"]),
            bytes.fromhex(data["mac"]),
        )  # fmt: skip
        self._anchors[site] = (stamp, anchor)
        return anchor

    def save_anchor(
        self, site: str, seq: int, hash_: bytes, *, force: bool = False, durable: bool = True
    ) -> None:
        """Replace ``anchor-<SITE>.json`` atomically (a 0600 temporary file renamed over
        it), fsynced when ``durable``; it only moves forward unless ``force``."""
        key = self.key(site)
        if key is None:
            return
        with self._lock:
            current = self.anchor(site)
            if not force and current is not None and current.seq >= seq:
                return  # another process of this node went further already
            mac = key.mac(seq, hash_, ANCHOR_DOMAIN)
            path = anchor_path(self.keys_dir, site)
            body = {"v": 1, "site": site, "seq": seq, "hash": hash_.hex(), "mac": mac.hex()}
            _replace_private(path, json.dumps(body, indent=2).encode(), durable)
            st = path.stat()
            self._anchors[site] = (
                (st.st_ino, st.st_mtime_ns, st.st_size), Anchor(site, seq, hash_, mac)
            )  # fmt: skip


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
