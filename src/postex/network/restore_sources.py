"""Where ``postex restore --from hub`` reads the hub's copy of a site: straight from the
hub's database, or over NATS request/reply from ``postex hub consume``.

Both are :class:`postex.network.app.restore.RestoreSource`; :func:`postex.bootstrap.replication`
builds them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from postex.eventlog.checkpoints import Signer
from postex.eventlog.events import Checkpoint, StoredEvent
from postex.eventlog.ports import Clock
from postex.eventlog.sql.store import SqlStore
from postex.kernel.errors import ConfigurationError
from postex.network.app.control import sign_control
from postex.network.app.hub import ReplicationState
from postex.network.app.wire import DataKey, Subjects, checkpoint_from, decode_events, witness_from
from postex.network.app.witness import Witness

if TYPE_CHECKING:
    from postex.network.nats.jetstream import NatsAccess

RESTORE_BATCH = 10_000


def _refusal(data: bytes) -> str:
    """The hub's refusal reason, if its answer is one."""
    if not data.startswith(b'{"refused"'):
        return ""
    try:
        return str(json.loads(data)["refused"])[:40]
    except (ValueError, KeyError, TypeError):
        return ""


@dataclass
class HubStoreSource:
    """The hub's verified copy of a site, read straight from the hub's database."""

    store: SqlStore
    state: ReplicationState
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


class NatsHubSource:
    """The hub's copy of a site, read over NATS request/reply from ``postex hub consume``.

    Every request is signed by this node (``name``, with ``signer``): the hub answers a
    site only with its own log, asked freshly under its own key.
    """

    kind = "hub"

    def __init__(
        self, url: str, subjects: Subjects, name: str, signer: Signer, clock: Clock,
        timeout: float = 15.0, attempts: int | None = None, access: NatsAccess | None = None,
    ) -> None:  # fmt: skip
        from postex.network.nats.jetstream import connect

        self.subjects = subjects
        self.name, self.signer, self.clock = name, signer, clock
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        # ``attempts`` bounds the (re)connection attempts (nats-py's default: 60).
        self.nc = self.loop.run_until_complete(
            connect(url, "postex-restore", access, attempts=60 if attempts is None else attempts,
                    timeout=5)
        )  # fmt: skip
        self._meta: dict[str, dict[str, Any]] = {}

    def _ask(self, site: str, body: dict[str, Any]) -> bytes:
        """One request; waits up to ``timeout`` for a hub to answer (it may be starting)."""
        from nats.errors import NoRespondersError
        from nats.errors import TimeoutError as NatsTimeout

        deadline = time.monotonic() + self.timeout
        subject = self.subjects.fetch(site)
        while True:
            data, hdrs = sign_control(
                self.signer, "fetch", self.name, subject, body, self.clock.now()
            )
            try:
                msg = self.loop.run_until_complete(self.nc.request(subject, data, 10, headers=hdrs))
                refused = _refusal(msg.data)
                if refused:
                    raise ConfigurationError(
                        f"the hub refused to serve {site}'s copy to {self.name} ({refused}): "
                        f"only {site}'s own key may read it, signed with a clock within 5 "
                        "minutes of the hub's; check the keys directory and the clock"
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
