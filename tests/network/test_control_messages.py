"""Status reports, replay requests and fetch requests are signed, fresh and new, or ignored
(issue #15: "30 unsigned replay requests … the site re-publishes its whole log 30 times;
status reports are unsigned too")."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from postex.bootstrap import Container, replication
from postex.network.app.control import sign_control
from postex.network.app.wire import Subjects
from tests.conftest import make_node
from tests.factories import new_customer, new_items
from tests.network.conftest import Loops, pair, trust, wait_until

pytestmark = pytest.mark.nats


async def _send(url: str, msgs: list[tuple[str, bytes, dict[str, str] | None]]) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        for subject, data, hdrs in msgs:
            await nc.publish(subject, data, headers=hdrs)
        await nc.flush()
    finally:
        await nc.close()


async def _ask(url: str, subject: str, data: bytes, hdrs: dict[str, str] | None) -> Any:
    import nats

    nc = await nats.connect(url)
    try:
        return json.loads((await nc.request(subject, data, timeout=5, headers=hdrs)).data)
    finally:
        await nc.close()


async def _stream_messages(url: str, prefix: str) -> int:
    import nats

    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(Subjects(prefix).stream)
        return int(info.state.messages)
    finally:
        await nc.close()


def _status(node: Container, site: str, subject: str, head: int, ago: float = 0) -> Any:
    now = node.ctx.clock.now() - timedelta(seconds=ago)
    return sign_control(node.signer, "status", site, subject, {"head": head, "acked": 0}, now)


def test_status_reports_count_only_when_the_site_signed_them_freshly(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """Unsigned, signed by another site, signed by an unknown key, stale, replayed or
    altered: ignored and counted by reason; the site's own fresh report is recorded."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    other = make_node(tmp_path / "two", f"sqlite:///{tmp_path / 'two.db'}", site="GBLGWA")
    trust(hub, other, "GBLGWA")
    stranger = make_node(tmp_path / "x", f"sqlite:///{tmp_path / 'x.db'}", site="GBLALA")
    consumer = replication(hub).consumer(hub.trusted_keys())
    loops.start(consumer.run)
    subject = Subjects(prefix).status("GBLALA")
    wait_until(lambda: consumer.listening, what="the hub listening")
    good, good_h = _status(site, "GBLALA", subject, 7)
    forged, forged_h = _status(other, "GBLGWA", subject, 999)  # another site, its own key
    claimed, claimed_h = _status(other, "GBLALA", subject, 999)  # claims GBLALA, wrong key
    alien, alien_h = _status(stranger, "GBLALA", subject, 999)  # a key nobody trusts
    stale, stale_h = _status(site, "GBLALA", subject, 999, ago=600)
    altered = good.replace(b'"head": 7', b'"head": 999')
    old_style = json.dumps({"site": "GBLALA", "head": 999, "acked": 0, "at": "x"}).encode()
    asyncio.run(_send(nats_url, [
        (subject, old_style, None), (subject, forged, forged_h), (subject, claimed, claimed_h),
        (subject, alien, alien_h), (subject, stale, stale_h), (subject, altered, good_h),
        (subject, good, good_h), (subject, good, good_h),
    ]))  # fmt: skip
    gate = consumer.status_gate
    wait_until(lambda: gate.accepted + gate.refused.total() == 8, what="every report checked")
    assert gate.accepted == 1
    assert gate.refused == {
        "unsigned": 1, "sender-not-allowed": 1, "untrusted-key": 2, "stale": 1,
        "bad-signature": 1, "replayed": 1,
    }  # fmt: skip
    report = replication(hub).state.reports()["GBLALA"]
    assert (report.head_seq, report.acked_seq) == (7, 0)
    assert "GBLGWA" not in replication(hub).state.reports()
    for node in (site, hub, other, stranger):
        node.close()


def test_replay_requests_need_the_hubs_signature_and_are_rate_limited(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """30 unsigned replay requests: nothing re-published. 30 requests signed by the hub in
    a burst: one replay (at most one in progress, one per interval). A request signed by
    the site's own key, or a stale one, is ignored."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    new_items(site, new_customer(site).record.id, n=20)
    pub = replication(site).publisher()
    loops.start(pub.run)
    head = site.store.head("GBLALA")[0]
    wait_until(lambda: pub.acked == head, what="the log published once")
    before = asyncio.run(_stream_messages(nats_url, prefix))
    subject = Subjects(prefix).replay("GBLALA")

    def ask(node: Container, name: str, ago: float = 0) -> tuple[bytes, dict[str, str]]:
        now = node.ctx.clock.now() - timedelta(seconds=ago)
        return sign_control(node.signer, "replay", name, subject, {"from": 1}, now)

    unsigned = json.dumps({"from": 1}).encode()
    asyncio.run(_send(nats_url, [(subject, unsigned, None)] * 30))
    own_key, own_h = ask(site, "GBLALA")
    as_hub, as_hub_h = ask(site, "HUB")  # claims to be the hub, signs with the site's key
    stale, stale_h = ask(hub, "HUB", ago=900)
    asyncio.run(_send(nats_url, [
        (subject, own_key, own_h), (subject, as_hub, as_hub_h), (subject, stale, stale_h),
    ]))  # fmt: skip
    gate = pub.replay_gate
    wait_until(lambda: gate.refused.total() == 33, what="every request checked")
    assert gate.refused == {"unsigned": 30, "sender-not-allowed": 1, "untrusted-key": 1, "stale": 1}
    assert pub._replays == 0
    assert asyncio.run(_stream_messages(nats_url, prefix)) == before

    asyncio.run(_send(nats_url, [(subject, *ask(hub, "HUB")) for _ in range(30)]))
    wait_until(lambda: gate.accepted == 30, what="the signed burst checked")
    wait_until(lambda: not pub.replay_limiter.in_progress, what="the replay done")
    assert pub._replays == 1
    assert pub.replay_limiter.refused == 29
    after = asyncio.run(_stream_messages(nats_url, prefix))
    assert before < after <= 2 * before  # the log re-published once, not 30 times
    loops.close()
    site.close()
    hub.close()


def test_fetch_requests_are_answered_only_for_the_sites_own_signed_request(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """Reading a site's copy (wrapped keys included) off the hub needs that site's key."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    other = make_node(tmp_path / "two", f"sqlite:///{tmp_path / 'two.db'}", site="GBLGWA")
    trust(hub, other, "GBLGWA")
    consumer = replication(hub).consumer(hub.trusted_keys())
    loops.start(consumer.run)
    wait_until(lambda: consumer.listening, what="the hub listening")
    subject = Subjects(prefix).fetch("GBLALA")
    body = {"what": "meta"}
    unsigned = asyncio.run(_ask(nats_url, subject, json.dumps(body).encode(), None))
    assert unsigned == {"refused": "unsigned"}
    now = other.ctx.clock.now()
    theirs = sign_control(other.signer, "fetch", "GBLGWA", subject, body, now)
    assert asyncio.run(_ask(nats_url, subject, *theirs)) == {"refused": "sender-not-allowed"}
    own = sign_control(site.signer, "fetch", "GBLALA", subject, body, site.ctx.clock.now())
    answer = asyncio.run(_ask(nats_url, subject, *own))
    assert answer["head"] == 0 and "checkpoints" in answer
    again = asyncio.run(_ask(nats_url, subject, *own))
    assert again == {"refused": "replayed"}
    for node in (site, hub, other):
        node.close()
