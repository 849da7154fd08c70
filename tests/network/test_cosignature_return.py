"""The hub's cosignatures of a site's tree heads come back to the site over real NATS (the
site's publisher fetches them), so its receipts carry the witness line by themselves; a
forged cosignature is refused and never stored."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container, replication
from postex.eventlog.notes import TreeHead, cosign_line, parse
from postex.eventlog.sql.notes import SqlNotes
from postex.network.nats.jetstream import connect
from postex.network.signing import load_or_create_signer
from postex.server import create_app
from tests.factories import SITE, make_caller, new_items, staff
from tests.network.conftest import Loops, pair, start_replication, wait_until
from tests.network.test_receipt_offline import WITNESS, run_verifier

pytestmark = pytest.mark.nats


def _accept(site: Container, item_id: str, weight: int, clerk: dict[str, str]) -> None:
    with TestClient(create_app(site)) as client:
        scans = [{"item_id": item_id, "weight_g": weight}]
        done = client.post(f"/api/v1/sites/{SITE}/acceptances", json={"scans": scans},
                           headers=clerk)  # fmt: skip
        assert done.status_code == 201, done.text


def test_the_site_fetches_the_hubs_cosignature_and_its_receipt_verifies_with_the_witness_key(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    owner = make_caller(site, "Owner Ltd")
    first, second = new_items(site, owner.id, n=2)
    clerk = staff(site, "clerk").headers
    _accept(site, first.id, 850, clerk)
    site.admin.checkpoint_now(SITE)
    size = site.store.head(SITE)[0]
    notes, hub_notes = SqlNotes(site.engine), SqlNotes(hub.engine)
    assert notes.cosignatures(SITE, size) == []

    pub, _ = start_replication(loops, site, hub)
    wait_until(lambda: notes.cosignatures(SITE, size) != [], what="the hub's cosignature")
    assert notes.cosignatures(SITE, size) == hub_notes.cosignatures(SITE, size)
    assert notes.last_cosigned(SITE, WITNESS) == hub_notes.last_cosigned(SITE, WITNESS)

    with TestClient(create_app(site)) as client:
        got = client.get(f"/api/v1/items/{first.id}/receipt", headers=owner.headers)
    assert got.status_code == 200, got.text
    receipt = got.json()
    assert receipt["tree_size"] == size
    assert receipt["checkpoint"].count("\u2014 ") == 2  # the site's and the witness's
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    code, report = run_verifier(path, site, hub)
    assert code == 0, report
    assert report["facts"]["acceptance"]["weight_g"] == 850

    # The publisher keeps asking while a newer tree head lacks its cosignature.
    _accept(site, second.id, 860, clerk)
    site.admin.checkpoint_now(SITE)
    later = site.store.head(SITE)[0]
    assert later > size
    wait_until(lambda: notes.cosignatures(SITE, later) != [], what="the later cosignature")
    assert pub.cosignatures is not None and pub.cosignatures.refused == 0
    loops.close()


def test_a_forged_cosignature_from_a_fake_hub_is_refused_and_not_stored(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """Something answering on the hub's fetch subject with lines signed by another key (or
    over another root) gets nothing into the site's tree_cosignatures."""
    site, _hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    owner = make_caller(site, "Owner Ltd")
    new_items(site, owner.id, n=3)
    site.admin.checkpoint_now(SITE)
    size = site.store.head(SITE)[0]
    notes = SqlNotes(site.engine)
    text = notes.note_at(SITE, size)
    assert text is not None
    head = parse(text)[0]
    impostor = load_or_create_signer(tmp_path / "impostor", "HUB")
    forged = cosign_line(head, WITNESS, impostor, 1_700_000_000)
    other_root = TreeHead(head.origin, size, bytes(32))
    wrong_root = cosign_line(other_root, WITNESS, _hub.signer, 1_700_000_000)
    asked: list[dict[str, object]] = []

    ready = threading.Event()

    async def fake_hub(stop: asyncio.Event) -> None:
        nc = await connect(nats_url, "fake-hub")

        async def answer(msg: object) -> None:
            asked.append(json.loads(msg.data)["body"])  # type: ignore[attr-defined]
            body = {"cosignatures": [[size, forged], [size, wrong_root], [size, "junk"]]}
            await msg.respond(json.dumps(body).encode())  # type: ignore[attr-defined]

        await nc.subscribe(replication(site).subjects.fetch(SITE), cb=answer)
        ready.set()
        await stop.wait()
        await nc.close()

    loops.start(fake_hub)
    wait_until(ready.is_set, what="the fake hub to listen")
    pub = replication(site).publisher()
    loops.start(pub.run)
    wait_until(lambda: pub.cosignatures is not None and pub.cosignatures.refused >= 3,
               what="the forged lines to be refused")  # fmt: skip
    assert asked and asked[0] == {"what": "cosignatures", "after": size - 1}
    assert notes.cosignatures(SITE, size) == []
    assert notes.last_cosigned(SITE, WITNESS) is None
    loops.close()


def test_only_a_site_fetches_cosignatures_the_hubs_own_log_has_no_witness_to_ask(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str
) -> None:
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    assert replication(site).publisher().cosignatures is not None
    assert replication(hub).publisher().cosignatures is None
