"""Signed tree heads and the hub as a witness: C2SP notes and cosignatures; a fork (two
trees of one size, or a tree that does not extend the last) is refused with an alarm."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from postex.bootstrap import replication
from postex.eventlog.events import NewEvent
from postex.eventlog.merkle import MemoryTree
from postex.eventlog.notes import TreeHead, cosigned_by, note, parse, sign_line, signed_by
from postex.eventlog.sql.notes import SqlNotes
from postex.network.app.cosigning import TreeWitness
from postex.network.signing import FileSigner
from tests.conftest import make_node
from tests.network.conftest import trust

SITE = "GBLALA"
ORIGIN = "postex.example/GBLALA"


class MemoryCosignatures:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[int, bytes]] = {}

    def last_cosigned(self, site: str, witness: str) -> tuple[int, bytes] | None:
        return self.rows.get((site, witness))

    def save_cosignature(
        self, site: str, size: int, witness: str, root: bytes, line: str, at: str
    ) -> None:
        self.rows[(site, witness)] = (size, root)


def key(seed: int) -> FileSigner:
    return FileSigner(Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def witness(alarms: list[tuple[str, int, str, str]]) -> TreeWitness:
    return TreeWitness(
        "postex.example/witness/HUB", key(2), MemoryCosignatures(),
        lambda *a: alarms.append(a), lambda: 1_780_000_000, lambda: "2026-06-01T00:00:00Z",
    )  # fmt: skip


def signed_head(tree: MemoryTree, size: int, site_key: FileSigner) -> str:
    head = TreeHead(ORIGIN, size, tree.root(size))
    return note(head, sign_line(head, ORIGIN, site_key))


def test_a_signed_note_round_trips_and_any_changed_byte_fails() -> None:
    """The note parses back to its head; the site's signature verifies under its key and
    not under another, nor after the size or root changes."""
    site_key = key(1)
    tree = MemoryTree([bytes([i]) * 32 for i in range(10)])
    text = signed_head(tree, 10, site_key)
    head, sigs = parse(text)
    assert (head.origin, head.size, head.root) == (ORIGIN, 10, tree.root())
    assert text.startswith(f"{ORIGIN}\n10\n") and sigs[0][0] == ORIGIN
    assert signed_by(text, ORIGIN, site_key.public)
    assert not signed_by(text, ORIGIN, key(3).public)
    assert not signed_by(text.replace("\n10\n", "\n11\n", 1), ORIGIN, site_key.public)


def test_the_witness_cosigns_a_growing_tree_and_refuses_a_fork() -> None:
    """Cosigned: the first head, then a larger one with a valid consistency proof. Refused
    with a tree-fork alarm: a different root for the same size, and a larger tree whose
    history differs (the proof fails). A note not signed by the site is refused too."""
    site_key, alarms = key(1), []
    w = witness(alarms)
    honest = MemoryTree([bytes([i]) * 32 for i in range(40)])
    first = w.add_checkpoint(SITE, signed_head(honest, 20, site_key), [], {"k": site_key.public})
    assert first is not None
    text = signed_head(honest, 20, site_key) + first
    assert cosigned_by(text, "postex.example/witness/HUB", key(2).public) == 1_780_000_000
    grown = w.add_checkpoint(
        SITE, signed_head(honest, 40, site_key), honest.consistency(20, 40), {"k": site_key.public}
    )
    assert grown is not None and not alarms

    forked = MemoryTree([bytes([i]) * 32 for i in range(39)] + [b"\xee" * 32])
    same_size = signed_head(forked, 40, site_key)
    assert w.add_checkpoint(SITE, same_size, [], {"k": site_key.public}) is None
    assert alarms[-1][2] == "tree-fork" and "two different trees of size 40" in alarms[-1][3]

    longer = MemoryTree([b"\x01" * 32] * 50)
    proof = longer.consistency(40, 50)
    assert (
        w.add_checkpoint(SITE, signed_head(longer, 50, site_key), proof, {"k": site_key.public})
        is None
    )
    assert alarms[-1][2] == "tree-fork" and "not consistent" in alarms[-1][3]

    assert (
        w.add_checkpoint(SITE, signed_head(honest, 40, key(9)), [], {"k": site_key.public}) is None
    )
    assert alarms[-1][2] == "bad-sig"


def test_the_hub_cosigns_the_tree_head_of_each_checkpoint_it_countersigns(tmp_path: Path) -> None:
    """A site's checkpoints carry signed notes; the hub that verified its copy cosigns the
    same tree head, and the cosignature verifies on the site's own note."""
    site = make_node(tmp_path / "site", f"sqlite:///{tmp_path / 'site.db'}", site=SITE)
    hub = make_node(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub.db'}", site="HUB", role="hub")
    try:
        trust(hub, site, SITE)
        site.store.checkpoint_every = 50  # type: ignore[attr-defined]
        with site.store.write(SITE) as uow:
            uow.append([NewEvent("test.thing.v1", {"n": i}) for i in range(120)])
        h = replication(hub).hub(hub.trusted_keys())
        h.receive_events(SITE, list(site.store.read_events(SITE)))
        for cp in site.store.checkpoints(SITE):
            h.receive_checkpoint(cp)
        site_notes, hub_notes = SqlNotes(site.engine), SqlNotes(hub.engine)
        size, text = site_notes.latest(SITE) or (0, "")
        assert size == 120
        lines = hub_notes.cosignatures(SITE, 120)
        assert len(lines) == 1
        assert signed_by(text, ORIGIN, site.signer.public)
        assert cosigned_by(text + lines[0], "postex.example/witness/HUB", hub.signer.public)
        assert hub_notes.last_cosigned(SITE, "postex.example/witness/HUB") == (
            120,
            parse(text)[0].root,
        )
        assert not replication(hub).state.alarms()
    finally:
        site.close()
        hub.close()


def test_the_hubs_cosignature_is_public_and_completes_the_sites_note(tmp_path: Path) -> None:
    """GET /api/v1/log/{site}/cosignatures on the hub gives its line; appended to the site's
    signed note it verifies as a cosignature by the hub's key."""
    from fastapi.testclient import TestClient

    from postex.server import create_app

    site = make_node(tmp_path / "site", f"sqlite:///{tmp_path / 'site.db'}", site=SITE)
    hub = make_node(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub.db'}", site="HUB", role="hub")
    try:
        trust(hub, site, SITE)
        with site.store.write(SITE) as uow:
            uow.append([NewEvent("test.thing.v1", {"n": i}) for i in range(30)])
        site.admin.checkpoint_now(SITE)
        h = replication(hub).hub(hub.trusted_keys())
        h.receive_events(SITE, list(site.store.read_events(SITE)))
        for cp in site.store.checkpoints(SITE):
            h.receive_checkpoint(cp)
        with TestClient(create_app(hub)) as client:
            got = client.get(f"/api/v1/log/{SITE}/cosignatures", params={"tree_size": 30})
        assert got.status_code == 200, got.text
        lines = got.json()["lines"]
        _, text = SqlNotes(site.engine).latest(SITE) or (0, "")
        assert cosigned_by(text + lines[0], "postex.example/witness/HUB", hub.signer.public)
    finally:
        site.close()
        hub.close()


def test_the_hub_alarms_when_its_copy_no_longer_extends_the_tree_it_cosigned(
    tmp_path: Path,
) -> None:
    """After the hub cosigned size 60, an event of its copy is changed behind its back; at
    the next checkpoints the trees are not the cosigned one (size 60 again) nor consistent
    with it (size 100): no cosignature, tree-fork alarms."""
    from postex.eventlog.sql.admin import execute_raw

    site = make_node(tmp_path / "site", f"sqlite:///{tmp_path / 'site.db'}", site=SITE)
    hub = make_node(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub.db'}", site="HUB", role="hub")
    try:
        trust(hub, site, SITE)
        h = replication(hub).hub(hub.trusted_keys())

        def grow(n: int) -> None:
            head = site.store.head(SITE)[0]
            with site.store.write(SITE) as uow:
                uow.append([NewEvent("test.thing.v1", {"n": i}) for i in range(n)])
            site.admin.checkpoint_now(SITE)
            h.receive_events(SITE, list(site.store.read_events(SITE, head)))
            for cp in site.store.checkpoints(SITE):
                h.receive_checkpoint(cp)

        grow(60)
        notes = SqlNotes(hub.engine)
        assert notes.cosignatures(SITE, 60)
        execute_raw(hub.engine, "UPDATE events SET hash = ? WHERE site = ? AND seq = 10",
                    [b"\xee" * 32, SITE])  # fmt: skip
        grow(40)
        assert not notes.cosignatures(SITE, 100)
        forks = [a for a in replication(hub).state.alarms() if a.kind == "tree-fork"]
        details = [a.detail for a in forks]
        assert any("two different trees of size 60" in d for d in details)  # cp 60 again
        assert any("size 100 is not consistent with the cosigned size 60" in d for d in details)
    finally:
        site.close()
        hub.close()
