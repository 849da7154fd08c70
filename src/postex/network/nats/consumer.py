"""The hub's side: a durable JetStream pull consumer feeding the replication hub.

Messages are processed in stream order and acknowledged after the hub has stored (or
refused) them, so a hub crash re-delivers rather than loses. A gap, or a site whose
acknowledged seq is ahead of the hub's copy while nothing arrives (the hub's store was
rebuilt, the stream was purged), makes the hub ask the site to replay from its head + 1.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from postex.kernel.errors import PostexError
from postex.network.app.control import HUB_NAME, ControlGate, own_subject, sign_control
from postex.network.app.cosigning import CosignatureLog
from postex.network.app.hub import Hub, SiteReportedHead
from postex.network.app.signatures import read_signature
from postex.network.app.wire import (
    Subjects,
    checkpoint_dict,
    chunk_events,
    decode_checkpoint,
    encode_events,
    witness_dict,
)
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
FETCH_EVENTS = 5_000
FETCH_BYTES = 700_000  # under NATS's default 1 MB payload limit
COSIGNATURE_PAGE = 200  # witness lines per answer (about 150 bytes each)


@dataclass
class HubConsumer:
    hub: Hub
    url: str
    subjects: Subjects = field(default_factory=Subjects)
    durable: str = "hub"
    batch: int = 64
    replay_quiet_s: float = 2.0  # ask for a replay only when a site has been quiet this long
    processed: int = 0
    _last_seen: dict[str, float] = field(default_factory=dict)
    _asked: dict[str, tuple[int, float]] = field(default_factory=dict)
    _gaps: dict[str, int] = field(default_factory=dict)  # seen in the stream
    _behind: dict[str, int] = field(default_factory=dict)  # from a site's status report
    access: NatsAccess = field(default_factory=NatsAccess)
    limits: StreamLimits = field(default_factory=StreamLimits)
    name: str = HUB_NAME  # the name sites trust the hub's key under
    listening: bool = False  # subscribed to status and fetch requests
    _nc: Client | None = None
    _status_gate: ControlGate | None = None
    _fetch_gate: ControlGate | None = None

    def __post_init__(self) -> None:
        keys = lambda: self.hub.site_keys  # noqa: E731
        self._status_gate = ControlGate("status", keys, own_subject, self.hub.clock.now)
        self._fetch_gate = ControlGate("fetch", keys, own_subject, self.hub.clock.now)

    @property
    def status_gate(self) -> ControlGate:
        assert self._status_gate is not None  # set in __post_init__
        return self._status_gate

    @property
    def fetch_gate(self) -> ControlGate:
        assert self._fetch_gate is not None  # set in __post_init__
        return self._fetch_gate

    async def run(self, stop: asyncio.Event, sites: list[str] | None = None) -> None:
        """Consume until ``stop`` is set; ``sites`` are asked to replay at start (hub rebuild)."""
        while not stop.is_set():
            try:
                self._nc = nc = await connect(self.url, "postex-hub", self.access)
                await ensure_stream(nc, self.subjects, self.limits)
                await ensure_durable(nc, self.subjects, self.durable)
                await nc.subscribe(self.subjects.status("*"), cb=self._on_status)
                await nc.subscribe(self.subjects.fetch("*"), cb=self._on_fetch)
                self.listening = True
                for site in sites or []:
                    await self._ask_replay(site, force=True)
                sites = None
                sub = await nc.jetstream().pull_subscribe_bind(
                    self.durable, stream=self.subjects.stream
                )
                while not stop.is_set():
                    try:
                        msgs = await sub.fetch(self.batch, timeout=0.5)
                    except (NatsTimeout, TimeoutError):  # nats-py raises either when idle
                        await asyncio.to_thread(self.hub.flush_alarms)
                        await self._ask_pending_replays(idle=True)
                        continue
                    for kind, site, group in grouped(self.subjects.prefix, msgs):
                        try:
                            await handle_group(kind, site, group, self._handle_events, self._handle)
                        except BaseException:
                            for msg in group:
                                await msg.nak()  # redelivered at once to the next attempt
                            raise
                        for msg in group:
                            await msg.ack()
                        self.processed += len(group)
                    await self._ask_pending_replays()
            except (asyncio.CancelledError, NatsAccessError):
                raise  # refused credentials or TLS: retrying cannot help; say so and stop
            except Exception as exc:  # NATS down: retry; nothing is acknowledged unprocessed
                log.info("hub consumer: %s; retrying", exc.__class__.__name__)
                await asyncio.sleep(0.5)
            finally:
                self.listening = False
                await close_quietly(self._nc)

    def _handle_events(self, site: str, group: Sequence[Message]) -> None:
        """Events messages of one site: each one's signature checked, then their events
        received together (``Hub.receive_runs``)."""
        if site == self.name:  # the hub's own log, published for the sites: the hub wrote it
            return
        hub = self.hub
        out = received(hub.check_signed_events, hub.receive_runs, site, group, "hub")
        if out is None:  # refused (alarm raised): not the site's, so not a sign of life
            return
        self._last_seen[site] = time.monotonic()
        if out.gap_from is not None:
            self._gaps[site] = out.gap_from

    def _handle(self, subject: str, data: bytes, hdrs: dict[str, str] | None = None) -> None:
        """Verify and apply a checkpoints or keys message (keys carry the site's signature)."""
        kind, site = subject_parts(self.subjects.prefix, subject)
        if site == self.name:  # the hub's own log, published for the sites: the hub wrote it
            return
        if not self.hub.known(site):  # counted into one alarm, never decoded
            self.hub.refuse_unknown(site, kind)
            return
        sig = read_signature(hdrs)
        try:
            if kind == "checkpoints":
                self.hub.receive_checkpoint(decode_checkpoint(data))
            elif kind == "keys":
                self.hub.receive_signed_keys(site, data, sig)
        except PostexError as exc:  # a malformed message is dropped, and said so
            log.warning("hub: dropped a message on %s: %s", subject, exc.detail)

    async def _on_status(self, msg: Msg) -> None:
        """Record a site's report if that site signed it, freshly (else ignored, counted)."""
        site = msg.subject.rsplit(".", 1)[-1]
        if site == self.name:  # the hub's own publisher's status: nothing to record
            return
        ctl = self.status_gate.check(msg.subject, site, msg.data, read_signature(msg.headers))
        if ctl is None:
            return
        try:
            report = SiteReportedHead(
                ctl.site, int(ctl.body["head"]), int(ctl.body["acked"]), ctl.at
            )
        except (ValueError, KeyError, TypeError):
            return
        await asyncio.to_thread(self.hub.receive_report, report)
        head, _ = await asyncio.to_thread(self.hub.store.head, report.site)
        quiet = time.monotonic() - self._last_seen.get(report.site, 0.0) > self.replay_quiet_s
        if report.acked_seq > head and quiet:
            self._behind[report.site] = head + 1

    async def _on_fetch(self, msg: Msg) -> None:
        """Serve the hub's copy to a restoring site: ``{"what": "meta"}`` or a run of events."""
        site = msg.subject.rsplit(".", 1)[-1]
        ctl = self.fetch_gate.check(msg.subject, site, msg.data, read_signature(msg.headers))
        if ctl is None:  # only the site itself, signing freshly, reads its copy
            if msg.reply:
                await msg.respond(json.dumps({"refused": self.fetch_gate.last_refusal}).encode())
            return
        try:
            after = int(ctl.body.get("after", 0))
            what = str(ctl.body.get("what", "events"))
        except (ValueError, TypeError, AttributeError):
            return
        data = await asyncio.to_thread(self._fetch, site, what, after)
        if msg.reply:
            await msg.respond(data)

    def _fetch(self, site: str, what: str, after: int) -> bytes:
        store, state = self.hub.store, self.hub.state
        if what == "cosignatures":  # the hub's witness lines over the site's tree heads
            return json.dumps({"cosignatures": self._cosignatures(site, after)}).encode()
        if what == "meta":
            keys = [[c, k, base64.b64encode(w).decode(), t] for c, k, w, t in state.data_keys(site)]
            return json.dumps({
                "head": store.head(site)[0],
                "checkpoints": [checkpoint_dict(cp) for cp in store.checkpoints(site)],
                "witnesses": [witness_dict(w) for w in state.witnesses(site)],
                "keys": keys,
            }).encode()  # fmt: skip
        events = store.read_events(site, after, after + FETCH_EVENTS, batch=FETCH_EVENTS)
        run = next(chunk_events(events, FETCH_EVENTS, FETCH_BYTES), [])
        return encode_events(site, run) if run else b'{"v":1,"events":[]}'

    def _cosignatures(self, site: str, after: int) -> list[list[object]]:
        w = self.hub.tree_witness
        if w is None or not isinstance(w.witness.store, CosignatureLog):
            return []
        rows = w.witness.store.cosigned_after(site, w.witness.name, after, COSIGNATURE_PAGE)
        return [[size, line] for size, line in rows]

    async def _ask_pending_replays(self, idle: bool = False) -> None:
        """Ask for replays of gaps; for sites merely behind only once the stream is drained."""
        for pending in (self._gaps, self._behind) if idle else (self._gaps,):
            for site, start in list(pending.items()):
                head, _ = await asyncio.to_thread(self.hub.store.head, site)
                if head >= start:
                    del pending[site]
                    continue
                await self._ask_replay(site)

    async def _ask_replay(self, site: str, force: bool = False) -> None:
        """Ask ``site`` to re-publish from the hub's head + 1 (at most once per quiet period)."""
        head, _ = await asyncio.to_thread(self.hub.store.head, site)
        asked_from, asked_at = self._asked.get(site, (0, 0.0))
        now = time.monotonic()
        if not force and asked_from == head + 1 and now - asked_at < self.replay_quiet_s:
            return
        if self._nc is None:
            return
        self._asked[site] = (head + 1, now)
        subject = self.subjects.replay(site)
        data, hdrs = sign_control(
            self.hub.signer, "replay", self.name, subject, {"from": head + 1}, self.hub.clock.now()
        )
        try:
            await self._nc.request(subject, data, timeout=2, headers=hdrs)
        except (NoRespondersError, NatsTimeout):
            log.info("hub: site %s did not answer a replay request (offline?)", site)
