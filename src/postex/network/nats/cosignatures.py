"""A site fetching the hub's cosignatures of its tree heads (pull, so a site that was down
or restored catches up).

After its checkpoints are acknowledged, the site's publisher asks the hub, with a signed
``fetch`` control request on ``<prefix>.fetch.<SITE>`` (body ``{"what": "cosignatures",
"after": N}``), for the witness lines of tree sizes above N; it asks again (at most every
``every_s``, backing off to ``max_wait_s`` while the hub has nothing new, back to
``every_s`` at each new tree head) while a signed tree head it published has no
cosignature. Each line is kept
in ``tree_cosignatures`` only if it is a valid C2SP cosignature/v1 over the site's *own*
signed tree head of that size by a key the site trusts under ``HUB``; anything else is
refused, counted and never stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from postex.eventlog.chain import format_time
from postex.eventlog.checkpoints import Signer
from postex.eventlog.notes import parse
from postex.eventlog.ports import Clock
from postex.eventlog.sql.notes import SqlNotes
from postex.network.app.control import sign_control
from postex.network.app.cosigning import check_cosignature
from postex.network.app.wire import Subjects

log = logging.getLogger("postex.replication")
PAGE = 200  # cosignature lines per answer


@dataclass
class CosignaturePuller:
    notes: SqlNotes
    site: str
    subjects: Subjects
    signer: Signer | None
    clock: Clock
    witness_keys: Callable[[], Mapping[str, bytes]]  # the keys trusted under HUB
    every_s: float = 1.0
    max_wait_s: float = 30.0
    cursor: int = 0  # sizes up to here: the hub has nothing more to give
    stored: int = 0
    refused: int = 0
    _last: float = float("-inf")
    _wait: float = 0.0
    _newest: int = 0  # the newest uncosigned size seen: a newer one is asked for at once

    async def pull(self, nc: Client, until: int) -> int:
        """Ask for the cosignatures the site lacks up to tree size ``until`` (what the hub
        acknowledged); the number of lines stored."""
        now = time.monotonic()
        if self.signer is None or now - self._last < self.every_s:
            return 0
        lacking = self.notes.uncosigned_after
        missing = await asyncio.to_thread(lacking, self.site, self.cursor, until)
        if not missing:
            return 0
        if missing[-1] > self._newest:
            self._newest, self._wait = missing[-1], self.every_s
        if now - self._last < self._wait:
            return 0
        self._last = now
        self._wait = min(max(self._wait, self.every_s) * 2, self.max_wait_s)  # until it helps
        subject = self.subjects.fetch(self.site)
        body = {"what": "cosignatures", "after": missing[0] - 1}
        data, hdrs = sign_control(self.signer, "fetch", self.site, subject, body, self.clock.now())
        try:
            msg = await nc.request(subject, data, timeout=2, headers=hdrs)
            lines = json.loads(msg.data)["cosignatures"]
        except (NoRespondersError, NatsTimeout, TimeoutError):
            return 0  # the hub is away: ask again later
        except (ValueError, KeyError, TypeError):
            return 0  # refused by the hub's gate, or not an answer
        return await asyncio.to_thread(self.keep, lines)

    def keep(self, lines: object) -> int:
        """Store the valid lines of an answer ``[[size, line], ...]``; refuse the others."""
        if not isinstance(lines, list):
            return 0
        keys, stored, refused, top = self.witness_keys(), 0, 0, self.cursor
        for entry in lines:
            if not (isinstance(entry, list) and len(entry) == 2):
                refused += 1
                continue
            size, line = entry
            note = self.notes.note_at(self.site, size) if isinstance(size, int) else None
            if note is None or not isinstance(line, str):
                refused += 1
                continue
            name = check_cosignature(note, line, keys)
            if name is None:
                refused += 1
                continue
            root = parse(note)[0].root
            self.notes.save_cosignature(
                self.site, size, name, root, line, format_time(self.clock.now())
            )
            stored, top = stored + 1, max(top, size)
        self.cursor = top  # a witness never cosigns a size below one it cosigned
        if stored:
            self._wait = self.every_s
        self.stored += stored
        if refused:
            self.refused += refused
            log.warning(
                "site %s: refused %d cosignature line(s) from the hub (not a valid cosignature "
                "by the trusted HUB key over this site's tree head)", self.site, refused,
            )  # fmt: skip
        return stored
