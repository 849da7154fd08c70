"""A flood on the subjects of invented sites raises one alarm, not one per message (issue
#15: "400 unsigned messages on <prefix>.events.<any site> in 0.3 s → 401 open integrity
alarms across 201 invented sites; verify --hub exits 1; alarms clear one id at a time")."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex.bootstrap import Container, replication
from postex.cli.main import app
from postex.network.app.refusals import UNKNOWN_PUBLISHER, UNKNOWN_SOURCE
from postex.network.app.wire import Subjects, encode_events
from tests.factories import new_customer, new_items
from tests.network.conftest import Loops, pair, start_replication, wait_until

pytestmark = pytest.mark.nats
runner = CliRunner()


async def _flood(url: str, prefix: str, sites: list[str], data: bytes) -> float:
    """Publish one unsigned message per entry of ``sites``; the seconds it took."""
    import nats

    nc = await nats.connect(url)
    subjects = Subjects(prefix)
    try:
        started = time.perf_counter()
        for site in sites:
            await nc.publish(subjects.events(site), data)
        await nc.flush()
        return time.perf_counter() - started
    finally:
        await nc.close()


async def _has_stream(url: str, prefix: str) -> bool:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        await nc.jetstream().stream_info(Subjects(prefix).stream)
    except NotFoundError:
        return False
    finally:
        await nc.close()
    return True


def _verify_hub(hub: Container) -> tuple[int, dict[str, object], str]:
    s = hub.settings
    env = {"POSTEX_ROLE": "hub", "POSTEX_SITE": "HUB"}
    result = runner.invoke(
        app, ["verify", "--hub", "--db", s.db_url, "--home", str(s.home), "--json"], env=env
    )
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_four_hundred_messages_for_invented_sites_raise_one_alarm(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """400 unsigned messages naming 201 invented sites in a fraction of a second: exactly
    one open alarm, counting them; the real site replicates meanwhile; `verify --hub`
    reports the alarm and still exits 0; one clear closes it; a later flood opens one."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    customer = new_customer(site).record.id
    new_items(site, customer, n=5)
    _, consumer = start_replication(loops, site, hub)
    wait_until(lambda: hub.store.head("GBLALA") == site.store.head("GBLALA"), what="a copy")
    invented = ["X" + secrets.token_hex(4).upper() for _ in range(200)]
    payload = encode_events("GBLALA", list(site.store.read_events("GBLALA")))
    took = asyncio.run(_flood(nats_url, prefix, [*invented, *invented], payload))
    assert took < 1.0
    new_items(site, customer, n=3)  # the real site keeps replicating through the flood
    state = replication(hub).state

    def unknown() -> list[str]:
        return [a.detail for a in state.alarms() if a.kind == UNKNOWN_PUBLISHER]

    wait_until(
        lambda: any(d.startswith("unknown sites: 400 message(s) naming 200") for d in unknown()),
        what="the alarm to count the whole flood",
    )
    wait_until(lambda: hub.store.head("GBLALA") == site.store.head("GBLALA"), what="the site")
    (alarm,) = state.alarms()  # one, not 401
    assert (alarm.site, alarm.seq, alarm.kind) == (UNKNOWN_SOURCE, 0, UNKNOWN_PUBLISHER)
    assert re.search(r"in the last 10 min \(X[0-9A-F]{8}, .*, …\)", alarm.detail)
    assert set(hub.store.sites()) <= {"GBLALA", "HUB"}
    wait_until(lambda: set(state.reports()) == {"GBLALA"}, what="the site's signed status")
    assert consumer.status_gate.refused.total() == 0

    code, report, stderr = _verify_hub(hub)
    assert code == 0, stderr
    assert report["ok"] is True
    assert report["alarms"] == [
        {"site": "*", "seq": 0, "kind": UNKNOWN_PUBLISHER, "detail": alarm.detail,
         "blocking": False}
    ]  # fmt: skip
    assert "NOTICE" in stderr and "integrity failure" not in stderr

    s = hub.settings
    cleared = runner.invoke(app, [
        "replication", "clear-alarm", "--id", str(alarm.id), "--reason",
        "INC-1: flood from a test publisher", "--db", s.db_url, "--home", str(s.home),
    ], env={"POSTEX_SITE": "HUB", "POSTEX_ROLE": "hub"})  # fmt: skip
    assert cleared.exit_code == 0, cleared.output
    assert state.alarms() == []

    asyncio.run(_flood(nats_url, prefix, invented[:50], payload))
    wait_until(lambda: len(unknown()) == 1, what="a new alarm for a new flood")
    time.sleep(1.5)  # the consumer's idle flush has run
    assert len(state.alarms()) == 1
    assert consumer.processed >= 450
    loops.close()
    site.close()
    hub.close()


def test_a_bad_signature_on_a_known_sites_subject_fails_no_verification(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """Unsigned events on a real site's subject: one alarm for the site, nothing stored,
    and `verify --hub` still exits 0 (the copies are intact), naming the alarm."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    new_items(site, new_customer(site).record.id, n=3)
    payload = encode_events("GBLALA", list(site.store.read_events("GBLALA")))
    consumer = replication(hub).consumer(hub.trusted_keys())
    loops.start(consumer.run)
    wait_until(lambda: asyncio.run(_has_stream(nats_url, prefix)), what="the hub's stream")
    asyncio.run(_flood(nats_url, prefix, ["GBLALA"] * 30, payload))
    state = replication(hub).state
    wait_until(
        lambda: (
            [a.detail[:40] for a in state.alarms()] == ["30 message(s) on GBLALA's subjects refus"]
        ),
        what="one alarm for the 30 unsigned messages",
    )
    assert hub.store.head("GBLALA")[0] == 0
    code, report, stderr = _verify_hub(hub)
    assert code == 0, stderr
    assert report["ok"] is True and report["alarms"][0]["blocking"] is False  # type: ignore[index]
    loops.close()
    site.close()
    hub.close()
