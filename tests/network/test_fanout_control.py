"""Fan-out over signed control messages (real JetStream): a follower counts only statuses
their node signed, signs its own replay requests, and a node answers a replay request from
any other node it trusts; the hub publishes its own log for the sites and never takes it
back as a foreign copy."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from postex.bootstrap import Container, replication
from postex.items.app.preadvice import get_item
from postex.network.app.control import sign_control
from postex.network.app.wire import Subjects
from postex.network.cli.ransomware import Loops
from tests.conftest import make_node
from tests.factories import new_customer, new_items
from tests.network.conftest import trust, wait_until

pytestmark = pytest.mark.nats

A, B, C = "GBLALA", "GBLGWA", "GBBHXA"


def _node(tmp_path: Path, code: str, nats_url: str, prefix: str, role: str = "site") -> Container:
    return make_node(
        tmp_path / code, f"sqlite:///{tmp_path / f'{code}.db'}", site=code, role=role,
        nats_url=nats_url, nats_prefix=prefix,
    )  # fmt: skip


def _joined(tmp_path: Path, first: Container, code: str, nats_url: str, prefix: str) -> Container:
    """A node initialised under ``first``'s KEK (copied before its first init)."""
    (tmp_path / code / "keys").mkdir(parents=True, mode=0o700)
    shutil.copy(first.settings.keys_dir / "kek.json", tmp_path / code / "keys" / "kek.json")
    return _node(tmp_path, code, nats_url, prefix)


async def _send(url: str, msgs: list[tuple[str, bytes, dict[str, str] | None]]) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        for subject, data, hdrs in msgs:
            await nc.publish(subject, data, headers=hdrs)
        await nc.flush()
    finally:
        await nc.close()


def test_a_follower_counts_only_statuses_their_node_signed(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """An old-style unsigned status and one signed with another key are ignored (counted);
    the node's own signed status is its last-heard time and head, and a head ahead of the
    copy makes the follower ask for a replay."""
    a = _node(tmp_path, A, nats_url, prefix)
    b = _joined(tmp_path, a, B, nats_url, prefix)
    trust(b, a, A)
    follower = replication(b).follower(b.trusted_keys())
    loops.start(follower.run)
    wait_until(lambda: follower.connected, what="the follower connected")
    subject = Subjects(prefix).status(A)
    old_style = json.dumps({"site": A, "head": 999}).encode()
    forged = sign_control(b.signer, "status", A, subject, {"head": 999, "acked": 0},
                          b.ctx.clock.now())  # fmt: skip
    good = sign_control(a.signer, "status", A, subject, {"head": 5, "acked": 5},
                        a.ctx.clock.now())  # fmt: skip
    asyncio.run(_send(nats_url, [(subject, old_style, None), (subject, *forged),
                                 (subject, *good)]))  # fmt: skip
    gate = follower.status_gate
    wait_until(lambda: gate.accepted + gate.refused.total() == 3, what="every status checked")
    assert gate.accepted == 1 and gate.refused == {"unsigned": 1, "untrusted-key": 1}
    state = replication(b).state
    wait_until(lambda: A in state.reports(), what="the status recorded")
    report = state.reports()[A]
    assert report.head_seq == 5 and report.reported_at
    wait_until(lambda: follower._asked.get(A, (0, 0.0))[0] == 1, what="a replay asked from 1")
    loops.close()


def test_a_node_answers_replay_requests_from_any_node_it_trusts_rate_limited(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """Gatwick (trusted by Heathrow) signs a request: Heathrow replays once for a burst of
    ten; Birmingham (not trusted) and Heathrow's own key are refused."""
    a = _node(tmp_path, A, nats_url, prefix)
    b = _joined(tmp_path, a, B, nats_url, prefix)
    stranger = _joined(tmp_path, a, C, nats_url, prefix)
    trust(a, b, B)
    new_items(a, new_customer(a).record.id, n=3)
    pub = replication(a).publisher()
    loops.start(pub.run)
    head = a.store.head(A)[0]
    wait_until(lambda: pub.acked == head, what="the log published once")
    subject = Subjects(prefix).replay(A)

    def ask(node: Container, name: str) -> tuple[str, bytes, dict[str, str]]:
        return (subject, *sign_control(node.signer, "replay", name, subject, {"from": 1},
                                       node.ctx.clock.now()))  # fmt: skip

    asyncio.run(_send(nats_url, [ask(stranger, C), ask(a, A)]))
    gate = pub.replay_gate
    wait_until(lambda: gate.refused.total() == 2, what="both refused")
    assert gate.refused == {"untrusted-key": 1, "sender-not-allowed": 1}
    assert pub._replays == 0
    asyncio.run(_send(nats_url, [ask(b, B) for _ in range(10)]))
    wait_until(lambda: gate.accepted == 10, what="the signed burst checked")
    wait_until(lambda: not pub.replay_limiter.in_progress, what="the replay done")
    assert pub._replays == 1 and pub.replay_limiter.refused == 9
    loops.close()


def test_the_hub_publishes_its_own_log_and_does_not_take_it_back(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """The hub's publisher and consumer share the stream: the consumer skips log HUB (no
    alarm, no foreign copy, the hub's status not refused) while a site follows it."""
    hub = _node(tmp_path, "HUB", nats_url, prefix, role="hub")
    site = _joined(tmp_path, hub, B, nats_url, prefix)
    trust(hub, site, B)
    trust(site, hub, "HUB")
    customer = new_customer(hub)
    item = new_items(hub, customer.record.id, n=1)[0]
    own_head = hub.store.head("HUB")
    rep = replication(hub)
    pub, consumer = rep.publisher(), rep.consumer(hub.trusted_keys())
    loops.start(consumer.run)
    loops.start(pub.run)
    loops.start(replication(site).publisher().run)
    loops.start(replication(site).follower(site.trusted_keys()).run)
    wait_until(lambda: pub.acked == own_head[0], what="the hub's log published")
    wait_until(lambda: site.store.head("HUB") == own_head, what="the site following HUB")
    wait_until(lambda: consumer.processed >= 2, what="the hub reading the stream")
    wait_until(lambda: consumer.status_gate.accepted >= 2, what="the site's statuses")
    assert hub.store.head("HUB") == own_head
    assert rep.state.alarms() == []
    assert consumer.status_gate.refused.total() == 0  # the hub's own status: skipped
    # The hub's customer's data key, wrapped under the one network KEK, opens at the site.
    wait_until(lambda: bool(site.admin.export_data_keys()), what="the data key")
    assert get_item(site.ctx, customer.record.id, item.id).personal is not None
    loops.close()


def test_a_follower_sets_the_nodes_stream_limits_not_the_defaults(
    tmp_path: Path, nats_url: str, prefix: str, loops: Loops
) -> None:
    """A site configured with its own stream limits: its follower (which may connect
    first) declares those limits, so publisher and follower never undo each other's."""
    from postex.network.nats.jetstream import connect

    site = make_node(
        tmp_path / B, f"sqlite:///{tmp_path / 'b.db'}", site=B, role="site", nats_url=nats_url,
        nats_prefix=prefix, nats_stream_max_age_days=3, nats_stream_max_bytes=64 * 1024**2,
    )  # fmt: skip
    follower = replication(site).follower(site.trusted_keys())
    loops.start(follower.run)
    wait_until(lambda: follower.connected, what="the follower connected")

    async def limits() -> tuple[float | None, int | None]:
        nc = await connect(nats_url, "test-limits")
        try:
            config = (await nc.jetstream().stream_info(Subjects(prefix).stream)).config
            return config.max_age, config.max_bytes
        finally:
            await nc.close()

    assert asyncio.run(limits()) == (3 * 86_400, 64 * 1024**2)
    loops.close()
