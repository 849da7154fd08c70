"""Everything replication needs, wired from a node's store, signer and keys.

:func:`postex.bootstrap.replication` builds one; entry points use it without importing
adapters.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postex.eventlog.chain import format_time
from postex.eventlog.checkpoints import Signer
from postex.eventlog.events import Checkpoint, StoredEvent
from postex.eventlog.ports import Clock, LogAdmin, Progress, Rebuilder
from postex.eventlog.sql.store import SqlStore
from postex.kernel.errors import ConfigurationError
from postex.network.app.replication import (
    DataKey,
    Hub,
    Subjects,
    Witness,
    checkpoint_from,
    decode_events,
    witness_from,
)
from postex.network.backup.files import BackupChain, FileBackupWriter
from postex.network.nats.consumer import HubConsumer
from postex.network.nats.jetstream import delete_stream
from postex.network.nats.publisher import JetStreamPublisher
from postex.network.signing import site_keys
from postex.network.sql import HubCopy, SqlReplicationState

RESTORE_BATCH = 10_000


@dataclass
class HubStoreSource:
    """The hub's verified copy of a site, read straight from the hub's database."""

    store: SqlStore
    state: SqlReplicationState
    kind: str = "hub"

    def head(self, site: str) -> int:
        return self.store.head(site)[0]

    def batches(self, site: str) -> Iterator[Sequence[StoredEvent]]:
        batch: list[StoredEvent] = []
        for ev in self.store.read_events(site, batch=RESTORE_BATCH):
            batch.append(ev)
            if len(batch) >= RESTORE_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def checkpoints(self, site: str) -> list[Checkpoint]:
        return self.store.checkpoints(site)

    def witnesses(self, site: str) -> list[Witness]:
        return self.state.witnesses(site)

    def data_keys(self, site: str) -> list[DataKey]:
        return self.state.data_keys(site)


@dataclass
class Replication:
    store: SqlStore
    admin: LogAdmin
    rebuilder: Rebuilder
    signer: Signer
    clock: Clock
    site: str
    nats_url: str
    subjects: Subjects
    checkpoint_seconds: float = 60.0
    keys_dir: Path | None = None  # where the trusted keys live (``<SITE>.pub``)

    def __post_init__(self) -> None:
        self.state = SqlReplicationState(self.store)

    def now(self) -> str:
        return format_time(self.clock.now())

    def publisher(self, url: str | None = None) -> JetStreamPublisher:
        pub = JetStreamPublisher(
            self.store, self.admin, self.state, self.site, url or self.nats_url, self.clock,
            self.subjects,
            checkpoint_seconds=self.checkpoint_seconds, signer=self.signer,
        )  # fmt: skip
        pub.attach()
        return pub

    def hub(
        self, trusted: dict[str, bytes], by_site: dict[str, dict[str, bytes]] | None = None
    ) -> Hub:
        """The hub; ``by_site`` (default: read from the keys directory) says which trusted
        key signs for which site."""
        if by_site is None:
            by_site = site_keys(self.keys_dir) if self.keys_dir is not None else {}
        return Hub(
            HubCopy(self.store, self.admin, self.rebuilder), self.state, self.signer, trusted,
            self.clock, site_keys=by_site,
        )  # fmt: skip

    def rebuild_hub(self, progress: Progress | None = None) -> int:
        """``postex rebuild`` on a hub: the projections replayed in the order the copies
        arrived (the order the hub applied them live)."""
        return HubCopy(self.store, self.admin, self.rebuilder).rebuild(progress)

    def consumer(
        self,
        trusted: dict[str, bytes],
        url: str | None = None,
        by_site: dict[str, dict[str, bytes]] | None = None,
    ) -> HubConsumer:
        return HubConsumer(self.hub(trusted, by_site), url or self.nats_url, self.subjects)

    def backup_writer(self) -> FileBackupWriter:
        return FileBackupWriter(self.store, self.admin, self.state, self.signer, self.now())

    @staticmethod
    def backup_reader(directory: Path) -> BackupChain:
        """A backup, full or incremental (with the backups it rests on)."""
        return BackupChain(directory)

    def copy_source(self) -> HubStoreSource:
        """This node's (the hub's) copies as a restore source."""
        return HubStoreSource(self.store, self.state)

    def hub_source(self, hub_db: str, clock: Clock) -> HubStoreSource:
        """The hub's database as a restore source, read with this node's projections."""
        store = SqlStore(hub_db, clock, self.store.projections, self.store.repositories)
        return HubStoreSource(store, SqlReplicationState(store))

    def nats_source(self, url: str | None = None) -> NatsHubSource:
        return NatsHubSource(url or self.nats_url, self.subjects)

    async def delete_stream(self, url: str | None = None) -> bool:
        return await delete_stream(url or self.nats_url, self.subjects)


class NatsHubSource:
    """The hub's copy of a site, read over NATS request/reply from ``postex hub consume``."""

    kind = "hub"

    def __init__(self, url: str, subjects: Subjects, timeout: float = 15.0) -> None:
        import nats

        self.subjects = subjects
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self.nc = self.loop.run_until_complete(nats.connect(url, connect_timeout=5))
        self._meta: dict[str, dict[str, Any]] = {}

    def _ask(self, site: str, body: dict[str, Any]) -> bytes:
        """One request; waits up to ``timeout`` for a hub to answer (it may be starting)."""
        from nats.errors import NoRespondersError
        from nats.errors import TimeoutError as NatsTimeout

        deadline = time.monotonic() + self.timeout
        while True:
            try:
                msg = self.loop.run_until_complete(
                    self.nc.request(self.subjects.fetch(site), json.dumps(body).encode(), 10)
                )
                return bytes(msg.data)
            except (NoRespondersError, NatsTimeout):
                if time.monotonic() > deadline:
                    raise ConfigurationError(
                        f"no hub answers on {self.subjects.fetch(site)}: is `postex hub "
                        "consume` running and reachable?"
                    ) from None
                time.sleep(0.2)

    def _meta_of(self, site: str) -> dict[str, Any]:
        if site not in self._meta:
            self._meta[site] = json.loads(self._ask(site, {"what": "meta"}))
        return self._meta[site]

    def head(self, site: str) -> int:
        return int(self._meta_of(site)["head"])

    def batches(self, site: str) -> Iterator[Sequence[StoredEvent]]:
        after = 0
        while True:
            data = self._ask(site, {"what": "events", "after": after})
            if not json.loads(data).get("events"):
                return
            _, events = decode_events(data)
            yield events
            after = events[-1].seq

    def checkpoints(self, site: str) -> list[Checkpoint]:
        return [checkpoint_from(d) for d in self._meta_of(site)["checkpoints"]]

    def witnesses(self, site: str) -> list[Witness]:
        return [witness_from(d) for d in self._meta_of(site)["witnesses"]]

    def data_keys(self, site: str) -> list[DataKey]:
        return [(c, k, base64.b64decode(w), t) for c, k, w, t in self._meta_of(site)["keys"]]

    def close(self) -> None:
        self.loop.run_until_complete(self.nc.close())
        self.loop.close()
