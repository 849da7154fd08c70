"""A node's follower: its own durable JetStream pull consumer on every other node's log.

Each node reads the stream directly (no second hop through the hub): the consumer
``follow-<NODE>`` takes every events, checkpoints and keys subject, skips the node's own
(acknowledged, untouched: the node is the only writer of its log) and hands the others to
:class:`~postex.network.app.follower.Follower`, which verifies them exactly as the hub does.
Messages are acknowledged only after they were applied (or refused), so a crash re-delivers
and never loses. A gap (the stream lost messages, or this node's copy was restored to an
older state) asks the publishing node to replay from the copy's head + 1, as the hub does.
Status messages (core NATS, once a second from each publishing node) are signed control
messages: only a status its node signed, freshly, on its own subject (checked by a
:class:`~postex.network.app.control.ControlGate`) counts as the last time this node heard
from that node. The replay requests are signed with this node's own key, as its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from postex.eventlog.checkpoints import Signer
from postex.kernel.errors import PostexError
from postex.network.app.control import ControlGate, own_subject, sign_control
from postex.network.app.follower import Follower
from postex.network.app.signatures import read_signature
from postex.network.app.wire import Subjects
from postex.network.nats.batches import (
    Message,
    grouped,
    handle_group,
    received,
    subject_parts,
)
from postex.network.nats.jetstream import (
    NatsAccess,
    NatsAccessError,
    StreamLimits,
    close_quietly,
    connect,
    ensure_durable,
    ensure_stream,
)

log = logging.getLogger("postex.replication")


@dataclass
class NodeFollower:
    follower: Follower
    url: str
    subjects: Subjects = field(default_factory=Subjects)
    signer: Signer | None = None  # this node's key: signs its replay requests (none: unasked)
    access: NatsAccess = field(default_factory=NatsAccess)
    limits: StreamLimits = field(default_factory=StreamLimits)  # the node's, as its publisher's
    batch: int = 64
    replay_quiet_s: float = 2.0
    processed: int = 0
    connected: bool = False
    _gaps: dict[str, int] = field(default_factory=dict)
    _asked: dict[str, tuple[int, float]] = field(default_factory=dict)
    _unfollowed: set[str] = field(default_factory=set)
    _last_seen: dict[str, float] = field(default_factory=dict)
    _nc: Client | None = None
    _status_gate: ControlGate | None = None

    def __post_init__(self) -> None:
        f = self.follower
        self._status_gate = ControlGate("status", lambda: f.site_keys, own_subject, f.clock.now)

    @property
    def status_gate(self) -> ControlGate:
        assert self._status_gate is not None  # set in __post_init__
        return self._status_gate

    @property
    def durable(self) -> str:
        return f"follow-{self.follower.own}"

    async def run(self, stop: asyncio.Event) -> None:
        """Follow until ``stop`` is set; reconnect and resume after any transport failure."""
        while not stop.is_set():
            try:
                self._nc = nc = await connect(
                    self.url, f"postex-follow-{self.follower.own}", self.access
                )
                await ensure_stream(nc, self.subjects, self.limits)
                await ensure_durable(nc, self.subjects, self.durable)
                await nc.subscribe(self.subjects.status("*"), cb=self._on_status)
                sub = await nc.jetstream().pull_subscribe_bind(
                    self.durable, stream=self.subjects.stream
                )
                self.connected = True
                while not stop.is_set():
                    try:
                        msgs = await sub.fetch(self.batch, timeout=0.5)
                    except (NatsTimeout, TimeoutError):
                        await self._ask_replays()
                        continue
                    for kind, site, group in grouped(self.subjects.prefix, msgs):
                        try:
                            await handle_group(kind, site, group, self._handle_events, self._handle)
                        except BaseException:
                            for msg in group:
                                await msg.nak()
                            raise
                        for msg in group:
                            await msg.ack()
                        self.processed += len(group)
                    await self._ask_replays()
            except (asyncio.CancelledError, NatsAccessError):
                raise  # refused credentials or TLS: retrying cannot help
            except Exception as exc:  # NATS down: retry; nothing is acknowledged unapplied
                log.info("follower %s: %s; retrying", self.follower.own, type(exc).__name__)
                self.connected = False
                await _sleep_or_stop(stop, 0.5)
            finally:
                self.connected = False
                await close_quietly(self._nc)

    def _follows(self, site: str) -> bool:
        f = self.follower
        if f.follows(site):
            return True
        if not f.mine(site) and site not in self._unfollowed:
            self._unfollowed.add(site)
            log.info("follower: not following %s (no trusted key for it)", site[:16])
        return False  # our own log (this node is its only writer), or a node not trusted here

    def _handle_events(self, site: str, group: Sequence[Message]) -> None:
        """Events messages of one node: each one's signature checked, then their events
        received together (``Follower.receive_runs``)."""
        if not self._follows(site):
            return
        f = self.follower
        out = received(f.check_signed_events, f.receive_runs, site, group, "follower")
        if out is None:
            return
        self._last_seen[site] = time.monotonic()
        if out.gap_from is not None:
            self._gaps[site] = out.gap_from

    def _handle(self, subject: str, data: bytes, hdrs: dict[str, str] | None = None) -> None:
        """A checkpoints or keys message of a followed node."""
        kind, site = subject_parts(self.subjects.prefix, subject)
        f = self.follower
        if not self._follows(site):
            return
        sig = read_signature(hdrs)
        try:
            if kind == "checkpoints":
                f.receive_checkpoint(data)
            elif kind == "keys":
                f.receive_keys(site, data, sig)
        except PostexError as exc:  # a malformed message is dropped, and said so
            log.warning("follower: dropped a message on %s: %s", subject, exc.detail)

    async def _on_status(self, msg: Msg) -> None:
        """A followed node's status, if that node signed it freshly (else ignored, counted)."""
        site = msg.subject.rsplit(".", 1)[-1]
        if not self.follower.follows(site):
            return  # our own status, or a node not trusted here: not even checked
        ctl = self.status_gate.check(msg.subject, site, msg.data, read_signature(msg.headers))
        if ctl is None:
            return
        try:
            head = int(ctl.body["head"])
        except (ValueError, KeyError, TypeError):
            return
        await asyncio.to_thread(self.follower.receive_status, site, head)
        # A node ahead of the copy while nothing of it arrives (this node was restored, or
        # the stream lost messages): ask it to replay, as the hub does.
        copy, _ = await asyncio.to_thread(self.follower.store.head, site)
        quiet = time.monotonic() - self._last_seen.get(site, 0.0) > self.replay_quiet_s
        if head > copy and quiet:
            self._gaps.setdefault(site, copy + 1)

    async def _ask_replays(self) -> None:
        for site, start in list(self._gaps.items()):
            head, _ = await asyncio.to_thread(self.follower.store.head, site)
            if head >= start:
                del self._gaps[site]
                continue
            asked_from, asked_at = self._asked.get(site, (0, 0.0))
            now = time.monotonic()
            if asked_from == head + 1 and now - asked_at < self.replay_quiet_s:
                continue
            self._asked[site] = (head + 1, now)
            if self._nc is None or self.signer is None:
                return  # a node without a key cannot ask: no node answers unsigned requests
            subject = self.subjects.replay(site)
            own, clock = self.follower.own, self.follower.clock
            data, hdrs = sign_control(
                self.signer, "replay", own, subject, {"from": head + 1}, clock.now()
            )
            try:
                await self._nc.request(subject, data, timeout=2, headers=hdrs)
            except (NoRespondersError, NatsTimeout):
                log.info("follower: node %s did not answer a replay request", site)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return
