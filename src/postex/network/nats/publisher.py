"""A node's side: publish its own log to JetStream from the last acknowledged seq (a
site's log, or the hub's own log ``HUB``, which every site follows like any node's).

Publishing is decoupled from appending: use cases commit to the local store and return;
a commit listener only wakes this loop, which reads from the log itself. The acknowledged
seq is persisted after JetStream has acknowledged a message, so a crash at any moment
re-sends (the hub drops duplicates) but never skips. With NATS down the loop keeps
retrying and the lag (head - acked) grows; it catches up in order when NATS returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

from postex.eventlog.chain import format_time
from postex.eventlog.checkpoints import Signer
from postex.eventlog.ports import Clock, LogAdmin
from postex.eventlog.sql.notes import SqlNotes
from postex.eventlog.sql.store import SqlStore
from postex.kernel.errors import IntegrityError
from postex.network.app.control import (
    HUB_NAME,
    ControlGate,
    ReplayLimiter,
    from_another_node,
    sign_control,
)
from postex.network.app.hub import ReplicationState
from postex.network.app.signatures import (
    MessageClaim,
    events_claim,
    keys_claim,
    read_signature,
    sign_message,
)
from postex.network.app.wire import (
    Subjects,
    chunk_events,
    encode_checkpoint,
    encode_events,
    encode_keys,
    message_id,
)
from postex.network.nats.cosignatures import CosignaturePuller
from postex.network.nats.jetstream import (
    NatsAccess,
    NatsAccessError,
    StreamLimits,
    connect,
    ensure_stream,
    headers,
)

log = logging.getLogger("postex.replication")


@dataclass
class JetStreamPublisher:
    store: SqlStore
    admin: LogAdmin
    state: ReplicationState
    site: str
    url: str
    clock: Clock
    subjects: Subjects = field(default_factory=Subjects)
    max_events: int = 500  # events per message
    max_bytes: int = 600_000  # below NATS's default 1 MB payload limit
    window: int = 32  # messages in flight before waiting for acknowledgements
    ack_timeout: float = 5.0
    status_every: float = 1.0
    checkpoint_seconds: float = 60.0  # sign the head at least this often while it moves
    signer: Signer | None = None  # the site's key: signs every message it sends
    access: NatsAccess = field(default_factory=NatsAccess)
    limits: StreamLimits = field(default_factory=StreamLimits)
    # Keys this node trusts, by name: a replay request must be signed by one of them (the
    # hub's, or another node's follower), never by this node's own.
    trusted_senders: Callable[[], Mapping[str, Mapping[str, bytes]]] = dict
    replay_interval_s: float = 5.0
    _gate: ControlGate | None = None
    cosignatures: CosignaturePuller | None = None  # the hub's witness lines, fetched back
    _limiter: ReplayLimiter | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _rewind_to: int | None = None
    _replays: int = 0  # replays answered: their message ids differ, or JetStream drops them
    _cp_sent: int = 0
    _keys_digest: str = ""
    acked: int = 0
    connected: bool = False

    def __post_init__(self) -> None:
        self._gate = ControlGate("replay", self.trusted_senders, from_another_node, self.clock.now)
        self._limiter = ReplayLimiter(self.replay_interval_s)
        if self.site == HUB_NAME:
            return  # the hub's own log: no other node witnesses it, there is nothing to fetch
        hub_keys = lambda: self.trusted_senders().get(HUB_NAME, {})  # noqa: E731
        self.cosignatures = CosignaturePuller(
            SqlNotes(self.store.engine), self.site, self.subjects, self.signer, self.clock, hub_keys
        )

    @property
    def replay_gate(self) -> ControlGate:
        assert self._gate is not None  # set in __post_init__
        return self._gate

    @property
    def replay_limiter(self) -> ReplayLimiter:
        assert self._limiter is not None  # set in __post_init__
        return self._limiter

    def attach(self) -> None:
        """Wake on every commit of this site (called from writer threads)."""
        self.store.add_commit_listener(self._on_commit)

    def _on_commit(self, site: str, _head: int) -> None:
        loop = self._loop
        if site == self.site and loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop closed meanwhile: nothing to wake
                return

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set; reconnect and resume after any transport failure."""
        self._loop = asyncio.get_running_loop()
        try:
            await self._run(stop)
        finally:
            self._loop = None

    async def _run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            nc: Client | None = None
            try:
                self.acked = self.state.acked(self.site)  # what JetStream surely holds
                nc = await connect(self.url, f"postex-site-{self.site}", self.access)
                await ensure_stream(nc, self.subjects, self.limits)
                await nc.subscribe(self.subjects.replay(self.site), cb=self._on_replay)
                self.connected = True
                await self._pump(nc, stop)
            except (asyncio.CancelledError, NatsAccessError):
                raise  # refused credentials or TLS: retrying cannot help; say so and stop
            except Exception as exc:  # NATS down, timeouts: retry; the log keeps everything
                log.info("publisher %s: %s; retrying", self.site, exc.__class__.__name__)
                self.connected = False
                self._cp_sent, self._keys_digest = 0, ""
                self.replay_limiter.done()  # a replay cut short: the hub asks again
                await _sleep_or_stop(stop, 0.5)
            finally:
                self.connected = False
                if nc is not None and not nc.is_closed:
                    try:
                        await asyncio.wait_for(nc.close(), 2)
                    except Exception:  # closing a dead connection may fail; nothing to keep
                        log.debug("close failed", exc_info=True)

    async def _on_replay(self, msg: Msg) -> None:
        """Re-publish from the asked seq: only for a fresh request another trusted node
        signed (the hub, or a follower behind), at most one replay at a time and one per
        ``replay_interval_s`` per requester (anything else is ignored)."""
        ask = self.replay_gate.check(msg.subject, self.site, msg.data, read_signature(msg.headers))
        if ask is None:
            return
        try:
            start = max(1, int(ask.body["from"]))
        except (ValueError, KeyError, TypeError):
            return
        loop = asyncio.get_running_loop()
        accepted = self.replay_limiter.allow(ask.site, loop.time())
        if accepted:
            self._rewind_to = start - 1
            self._replays += 1
            self._wake.set()
        head, _ = self.store.head(self.site)
        if msg.reply:
            answer = {"site": self.site, "head": head, "replaying": accepted}
            await msg.respond(json.dumps(answer).encode())

    async def _pump(self, nc: Client, stop: asyncio.Event) -> None:
        last_status = 0.0
        loop = asyncio.get_running_loop()
        last_checkpoint = loop.time()
        while not stop.is_set():
            self._wake.clear()
            now = loop.time()
            if now - last_checkpoint >= self.checkpoint_seconds:
                try:
                    await asyncio.to_thread(self.admin.checkpoint_now, self.site)
                except IntegrityError as exc:  # the store raised an alarm; never sign over it
                    log.error("checkpoint refused at seq %s: %s", exc.seq, exc.detail)
                last_checkpoint = now
            await self.publish_pending(nc)
            if self.cosignatures is not None:
                await self.cosignatures.pull(nc, self.acked)
            now = loop.time()
            if now - last_status >= self.status_every:
                await self._status(nc)
                last_status = now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.status_every)

    async def _status(self, nc: Client) -> None:
        """A signed status report (a publisher without a key sends none: the hub ignores
        unsigned ones)."""
        if self.signer is None:
            return
        head, _ = self.store.head(self.site)
        subject = self.subjects.status(self.site)
        body = {"head": head, "acked": self.acked}
        data, hdrs = sign_control(self.signer, "status", self.site, subject, body, self.clock.now())
        await nc.publish(subject, data, headers=hdrs)

    def _now(self) -> str:
        return format_time(self.clock.now())

    async def publish_pending(self, nc: Client) -> int:
        """Send everything after the acknowledged seq; return the number of events sent."""
        js = nc.jetstream()
        replaying = self._rewind_to is not None
        if self._rewind_to is not None:
            self.acked, self._rewind_to = min(self.acked, self._rewind_to), None
            self._cp_sent, self._keys_digest = 0, ""
        sent = 0
        pending: deque[tuple[int, asyncio.Future[Any]]] = deque()
        subject = self.subjects.events(self.site)
        position = self.acked
        # Only authenticated events leave the site: none past the MAC'd head.
        until = self.store.authenticated_seq(self.site)
        for run in chunk_events(
            self.store.read_events(self.site, position, until), self.max_events, self.max_bytes
        ):
            first, last = run[0].seq, run[-1].seq
            data = encode_events(self.site, run)
            fut = await js.publish_async(
                subject,
                data,
                headers={
                    **headers(self._message_id(first, last)),
                    **self._signature(events_claim(self.site, run, data)),
                },
            )
            pending.append((last, fut))
            sent += len(run)
            if len(pending) >= self.window:
                await self._settle(pending, self.window // 2)
            if self._rewind_to is not None:
                break
        await self._settle(pending, 0)
        await self._send_checkpoints(js)
        await self._send_keys(js)
        if replaying and self._rewind_to is None:
            self.replay_limiter.done()  # the replay is out: the next may start (after the interval)
        return sent

    def _signature(self, claim: MessageClaim) -> dict[str, str]:
        """The signature headers (none without a signer: the hub refuses such messages)."""
        return sign_message(self.signer, claim) if self.signer is not None else {}

    def _message_id(self, first: int, last: int) -> str:
        """``SITE:first-last``; a replay appends ``:r<n>`` so the duplicate window keeps it."""
        base = message_id(self.site, first, last)
        return f"{base}:r{self._replays}" if self._replays else base

    async def _settle(self, pending: deque[tuple[int, asyncio.Future[Any]]], keep: int) -> None:
        """Wait for acknowledgements, oldest first, until ``keep`` remain; persist the seq."""
        advanced = False
        while len(pending) > keep:
            last, fut = pending.popleft()
            await asyncio.wait_for(fut, self.ack_timeout)
            self.acked, advanced = last, True
        if advanced:
            self.state.set_acked(self.site, self.acked, self._now())

    async def _send_checkpoints(self, js: object) -> None:
        cps = [
            cp for cp in self.store.checkpoints(self.site) if self._cp_sent < cp.seq <= self.acked
        ]
        for cp in cps:
            await js.publish(  # type: ignore[attr-defined]
                self.subjects.checkpoints(self.site),
                encode_checkpoint(cp),
                timeout=self.ack_timeout,
                headers=headers(f"{self.site}:cp:{cp.seq}:r{self._replays}"),
            )
            self._cp_sent = cp.seq

    async def _send_keys(self, js: object) -> None:
        keys = self.admin.export_data_keys()
        data = encode_keys(self.site, keys)
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._keys_digest:
            return
        await js.publish(  # type: ignore[attr-defined]
            self.subjects.keys(self.site),
            data,
            timeout=self.ack_timeout,
            headers={
                **headers(f"{self.site}:keys:{digest[:16]}:r{self._replays}"),
                **self._signature(keys_claim(self.site, data)),
            },
        )
        self._keys_digest = digest


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
