"""Site log keys and local anchors, kept as 0600 files in the key directory.

``log-<SITE>.json`` holds the site's 32-byte log key (HMAC-SHA256) that authenticates its
log's head (:mod:`postex.eventlog.authlog`); ``anchor-<SITE>.json`` holds the newest head
the node vouched for, MAC'd under that key. Neither is ever in the database or a backup:
someone who can write the database cannot write them. ``rows.json`` holds the node's
row-MAC key (credentials, staff users and sessions), kept the same way.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from postex.accounts.keys.files import read_secret, write_secret
from postex.eventlog.authlog import ANCHOR_DOMAIN, KEY_SIZE, Anchor, LogKey


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
        self._lock = threading.Lock()

    def key(self, site: str) -> LogKey | None:
        if not self._holds(site):
            return None
        with self._lock:
            if site not in self._keys:
                self._keys[site] = load_or_create_log_key(self.keys_dir, site)
            return self._keys[site]

    def anchor(self, site: str) -> Anchor | None:
        path = anchor_path(self.keys_dir, site)
        if not path.exists():
            return None
        data = read_secret(path)
        return Anchor(
            str(data["site"]), int(data["seq"]), bytes.fromhex(data["hash"]),
            bytes.fromhex(data["mac"]),
        )  # fmt: skip

    def save_anchor(self, site: str, seq: int, hash_: bytes, *, force: bool = False) -> None:
        key = self.key(site)
        if key is None:
            return
        with self._lock:
            current = self.anchor(site)
            if not force and current is not None and current.seq >= seq:
                return  # another process of this node went further already
            mac = key.mac(seq, hash_, ANCHOR_DOMAIN)
            write_secret(
                anchor_path(self.keys_dir, site),
                {"v": 1, "site": site, "seq": seq, "hash": hash_.hex(), "mac": mac.hex()},
                replace=True,
            )
