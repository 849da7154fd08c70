"""Every replication message is signed by its site's key; the hub stores nothing else."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from postex.bootstrap import Container, replication
from postex.eventlog.checkpoints import make_checkpoint
from postex.eventlog.events import NewEvent, StoredEvent
from postex.network.app.hub import Hub
from postex.network.app.signatures import MessageSignature, events_claim, keys_claim, sign_message
from postex.network.app.wire import encode_events, encode_keys
from tests.conftest import make_node
from tests.factories import new_customer, new_items
from tests.network.conftest import Loops, pair, trust, wait_until

pytestmark = pytest.mark.nats


def _events(node: Container, n: int, site: str = "GBLALA") -> list[StoredEvent]:
    with node.store.write(site) as uow:
        uow.append([NewEvent("test.thing.v1", {"n": i}) for i in range(n)])
    return list(node.store.read_events(site))


def _stored(hub: Container, site: str = "GBLALA") -> int:
    with hub.store.read() as uow:
        count = uow.conn.exec_driver_sql(
            "SELECT count(*) FROM events WHERE site = ?"
            if hub.engine.dialect.name == "sqlite"
            else "SELECT count(*) FROM events WHERE site = %s",
            (site,),
        ).scalar()
    return int(count or 0)


def _signed(node: Container, events: list[StoredEvent]) -> tuple[bytes, MessageSignature]:
    data = encode_events(node.settings.site, events)
    h = sign_message(node.signer, events_claim(node.settings.site, events, data))
    return data, MessageSignature(h["Postex-Key-Id"], base64.b64decode(h["Postex-Signature"]))


def test_rogue_publisher_with_another_key_is_refused_and_the_site_is_stored(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """A rogue publishes a well-formed chain for a site the hub has not seen, with its own
    key: refused before anything is stored, with one alarm naming the site and what was
    refused. An unsigned message (an old publisher) is refused too. The real site is then
    stored."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    rogue = make_node(
        tmp_path / "rogue", f"sqlite:///{tmp_path / 'rogue.db'}", site="GBLALA", role="site",
        nats_url=nats_url, nats_prefix=prefix,
    )  # fmt: skip
    assert rogue.signer.key_id != site.signer.key_id
    new_items(rogue, new_customer(rogue).record.id, n=3)  # a valid chain, with a data key
    rep = replication(hub)
    loops.start(rep.consumer(hub.trusted_keys()).run)
    rogue_stop = loops.start(replication(rogue).publisher().run)

    def refused() -> list[str]:
        return [
            a.detail
            for a in rep.state.alarms()
            if (a.site, a.seq, a.kind) == ("GBLALA", 0, "bad-message-signature")
        ]

    # The rogue's events and its data keys: two messages, one alarm.
    wait_until(
        lambda: any(d.startswith("2 message(s) on GBLALA's subjects") for d in refused()),
        what="one alarm counting the rogue's events and keys",
    )
    assert len(refused()) == 1
    assert "not a key trusted for GBLALA" in refused()[0]
    loops.stop_one(rogue_stop)
    assert hub.store.head("GBLALA")[0] == 0 and _stored(hub) == 0
    assert rep.state.data_keys("GBLALA") == []

    # An unsigned message of the real site's (well-formed, right hashes): refused as well.
    customer = new_customer(site).record.id
    new_items(site, customer, n=5)
    real = list(site.store.read_events("GBLALA"))
    asyncio.run(_publish_raw(nats_url, f"{prefix}.events.GBLALA", encode_events("GBLALA", real)))
    wait_until(
        lambda: any(a.kind == "unsigned-message" for a in rep.state.alarms()),
        what="an alarm for the unsigned message",
    )
    unsigned = next(a for a in rep.state.alarms() if a.kind == "unsigned-message")
    assert (unsigned.site, unsigned.seq) == ("GBLALA", 0)
    assert unsigned.detail.startswith("1 message(s) on GBLALA's subjects refused")
    assert unsigned.detail.endswith(f"latest: events 1-{len(real)} refused: unsigned")
    assert _stored(hub) == 0
    alarms_before = len(rep.state.alarms())

    # The real site, signing with its trusted key: stored, verified, keys kept.
    loops.start(replication(site).publisher().run)
    new_items(site, customer, n=4)
    wait_until(
        lambda: hub.store.head("GBLALA") == site.store.head("GBLALA"), what="the real site copied"
    )
    assert _stored(hub) == site.store.head("GBLALA")[0]
    wait_until(lambda: len(rep.state.data_keys("GBLALA")) == 1, what="the site's data key")
    assert len(rep.state.alarms()) == alarms_before  # nothing the real site sent was refused
    loops.close()
    for node in (site, rogue, hub):
        node.close()


async def _publish_raw(url: str, subject: str, data: bytes) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        await nc.jetstream().publish(subject, data, timeout=5)
    finally:
        await nc.close()


@pytest.mark.parametrize("hub_db", ["sqlite_hub_url", "pg_hub_url"])
def test_hub_refuses_messages_not_signed_by_the_sites_own_key(
    tmp_path: Path, hub_db: str, request: pytest.FixtureRequest
) -> None:
    """Another trusted site's key, the hub's own key, a changed payload, a wrong subject,
    an unsigned or unknown key: each refused and counted in one alarm per subject's site and
    kind, nothing stored; the right signature is stored."""
    one = make_node(tmp_path / "one", f"sqlite:///{tmp_path / 'one.db'}", site="GBLALA")
    two = make_node(tmp_path / "two", f"sqlite:///{tmp_path / 'two.db'}", site="GBLGWA")
    hub = make_node(tmp_path / "hub", request.getfixturevalue(hub_db), site="HUB", role="hub")
    trust(hub, one, "GBLALA")
    trust(hub, two, "GBLGWA")
    events = _events(one, 6)
    rep = replication(hub)
    h: Hub = rep.hub(hub.trusted_keys())
    data, good = _signed(one, events)

    # GBLGWA's key (trusted, but for GBLGWA) signing GBLALA's events.
    theirs = sign_message(two.signer, events_claim("GBLALA", events, data))
    other_site = MessageSignature(theirs["Postex-Key-Id"], good.signature)
    hub_own = MessageSignature(hub.signer.key_id, hub.signer.sign(b"anything"))
    msg = json.loads(data)
    msg["events"][0][3] = "e30="  # body "{}": a different payload under the same signature
    tampered = json.dumps(msg).encode()
    cases = [
        ("GBLALA", data, None, "unsigned-message", "unsigned"),
        ("GBLALA", data, MessageSignature("ed25519-0000", good.signature), "bad-message-signature",
         "not a key trusted for GBLALA"),
        ("GBLALA", data, other_site, "bad-message-signature", "not a key trusted for GBLALA"),
        ("GBLALA", data, hub_own, "bad-message-signature", "not a key trusted for GBLALA"),
        ("GBLALA", tampered, good, "bad-message-signature", "signature does not match"),
        ("GBLGWA", data, good, "bad-message-signature", "on GBLGWA's subject"),
    ]  # fmt: skip
    counts: dict[tuple[str, str], int] = {}
    for subject_site, payload, sig, kind, reason in cases:
        assert h.receive_signed_events(subject_site, payload, sig) is None
        h.flush_alarms()  # what the consumer does when the stream is idle
        counts[subject_site, kind] = counts.get((subject_site, kind), 0) + 1
        (alarm,) = [a for a in rep.state.alarms() if (a.site, a.kind) == (subject_site, kind)]
        assert alarm.seq == 0
        assert alarm.detail.startswith(
            f"{counts[subject_site, kind]} message(s) on {subject_site}'s subjects refused"
        )
        assert "nothing stored; latest: events 1-6 refused: " in alarm.detail
        assert reason in alarm.detail
        assert hub.store.head("GBLALA")[0] == 0 and _stored(hub) == 0
    assert len(rep.state.alarms()) == len(counts) == 3

    # Keys: another site's signature is refused, the site's own kept.
    keys = [("C1", "kek-1", b"wrapped", "2026-01-01T00:00:00Z")]
    kdata = encode_keys("GBLALA", keys)
    kt = sign_message(two.signer, keys_claim("GBLALA", kdata))
    assert not h.receive_signed_keys(
        "GBLALA", kdata, MessageSignature(kt["Postex-Key-Id"], b"x" * 64)
    )
    assert rep.state.data_keys("GBLALA") == []
    ko = sign_message(one.signer, keys_claim("GBLALA", kdata))
    own = MessageSignature(ko["Postex-Key-Id"], base64.b64decode(ko["Postex-Signature"]))
    assert h.receive_signed_keys("GBLALA", kdata, own)
    assert rep.state.data_keys("GBLALA") == keys

    out = h.receive_signed_events("GBLALA", data, good)
    assert out is not None and out.stored == 6 and out.fault is None
    assert hub.store.head("GBLALA") == one.store.head("GBLALA")
    for node in (one, two, hub):
        node.close()


def test_checkpoint_signed_by_another_sites_trusted_key_is_refused(tmp_path: Path) -> None:
    """A checkpoint is kept only if the key of the site it names signed it."""
    one = make_node(tmp_path / "one", f"sqlite:///{tmp_path / 'one.db'}", site="GBLALA")
    two = make_node(tmp_path / "two", f"sqlite:///{tmp_path / 'two.db'}", site="GBLGWA")
    hub = make_node(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub.db'}", site="HUB", role="hub")
    trust(hub, one, "GBLALA")
    trust(hub, two, "GBLGWA")
    events = _events(one, 3)
    forged = make_checkpoint(two.signer, "GBLALA", 3, events[-1].hash, "2026-01-01T00:00:00Z")
    rep = replication(hub)
    h = rep.hub(hub.trusted_keys())
    assert h.receive_checkpoint(forged) is None
    alarm = rep.state.alarms()[-1]
    assert (alarm.site, alarm.seq, alarm.kind) == ("GBLALA", 3, "bad-sig")
    assert hub.store.checkpoints("GBLALA") == []
    real = make_checkpoint(one.signer, "GBLALA", 3, events[-1].hash, "2026-01-01T00:00:00Z")
    assert h.receive_checkpoint(real) is None  # kept; witnessed once the events arrive
    assert [cp.seq for cp in hub.store.checkpoints("GBLALA")] == [3]
    for node in (one, two, hub):
        node.close()
