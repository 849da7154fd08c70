"""The replication stream has an age and a size limit, set on creation and on an existing
stream (issue #15: "the stream has no size or age limit"); what it discards, the hub gets
back from the site by a signed replay request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nats.js.api import DiscardPolicy, StreamConfig

from postex.bootstrap import replication
from postex.eventlog.events import NewEvent
from postex.network.app.wire import Subjects
from tests.network.conftest import Loops, pair, wait_until

pytestmark = pytest.mark.nats
DAY = 86_400


async def _config(url: str, prefix: str) -> StreamConfig:
    import nats

    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info(Subjects(prefix).stream)).config
    finally:
        await nc.close()


async def _old_stream(url: str, prefix: str) -> None:
    """The stream as earlier versions declared it: no age or size limit."""
    import nats

    subjects = Subjects(prefix)
    nc = await nats.connect(url)
    try:
        await nc.jetstream().add_stream(
            StreamConfig(name=subjects.stream, subjects=subjects.stream_subjects)
        )
    finally:
        await nc.close()


def test_an_existing_unlimited_stream_gets_the_default_limits_then_the_configured_ones(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """A site started against an old, unlimited stream sets 14 days and 2 GiB (discard
    old); a hub configured otherwise sets its own limits on its next start."""
    asyncio.run(_old_stream(nats_url, prefix))
    before = asyncio.run(_config(nats_url, prefix))
    assert before.max_bytes in (None, -1) and before.max_age in (None, 0)
    site, hub = pair(
        tmp_path,
        nats_url,
        prefix,
        sqlite_hub_url,  # the site on the defaults
    )
    pub = replication(site).publisher()
    stop = loops.start(pub.run)
    wait_until(lambda: pub.connected, what="the site connected")
    config = asyncio.run(_config(nats_url, prefix))
    assert (config.max_age, config.max_bytes, config.discard) == (
        14 * DAY,
        2 * 1024**3,
        DiscardPolicy.OLD,
    )
    loops.stop_one(stop)
    hub.close()
    from tests.conftest import make_node

    hub = make_node(
        tmp_path / "hub", sqlite_hub_url, site="HUB", role="hub", nats_url=nats_url,
        nats_prefix=prefix, nats_stream_max_age_days=3, nats_stream_max_bytes=64 * 1024**2,
    )  # fmt: skip
    consumer = replication(hub).consumer(hub.trusted_keys())
    loops.start(consumer.run)
    wait_until(lambda: asyncio.run(_config(nats_url, prefix)).max_age == 3 * DAY, what="new limits")
    assert asyncio.run(_config(nats_url, prefix)).max_bytes == 64 * 1024**2
    loops.close()
    site.close()
    hub.close()


def test_what_the_stream_discarded_the_hub_gets_back_by_replay(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """A 1 MiB stream, a site publishing about 3 MiB while the hub is down: the oldest
    messages are discarded; the hub, seeing a gap, asks the site (signed) to replay, and
    its copy reaches the site's head, verified."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url, nats_stream_max_bytes=1024**2)
    with site.store.write("GBLALA") as uow:
        uow.append([NewEvent("test.thing.v1", {"n": i, "pad": "x" * 3000}) for i in range(1000)])
    pub = replication(site).publisher()
    pub.max_events = 20  # many small messages, so the stream discards whole ones
    loops.start(pub.run)
    head = site.store.head("GBLALA")[0]
    wait_until(lambda: pub.acked == head, timeout=60, what="the site's log published")

    first = asyncio.run(_first_seq(nats_url, prefix))
    assert first > 1  # the oldest messages are gone
    consumer = replication(hub).consumer(hub.trusted_keys())
    loops.start(consumer.run)
    wait_until(
        lambda: hub.store.head("GBLALA") == site.store.head("GBLALA"), timeout=90,
        what="the hub's copy complete through a replay",
    )  # fmt: skip
    assert pub._replays >= 1
    loops.close()
    site.close()
    hub.close()


async def _first_seq(url: str, prefix: str) -> int:
    import nats

    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(Subjects(prefix).stream)).state.first_seq)
    finally:
        await nc.close()
