"""Personal data is sealed before it reaches the log; erasure and key rotation."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex.accounts.app.customers import erase_customer
from postex.bootstrap import Container
from postex.cli.main import app
from postex.items.app.preadvice import get_item
from postex.kernel.errors import KeyUnavailableError
from postex.network.app.integrity import verify_store
from postex.tracking.app.public import public_tracking
from tests.conftest import make_node
from tests.factories import ITEM, new_customer, new_items

MARKED = [
    ITEM["sender"]["name"], "Marigold Lane", ITEM["sender"]["email"],
    ITEM["addressee"]["name"], "Juniper Boulevard", ITEM["addressee"]["email"],
    "+1 212 555 0100", "IM1234567890", "ORDER-1042", "INV-77",
]  # fmt: skip


def database_bytes(db: Path) -> bytes:
    """The SQLite file with its WAL, as someone copying them off the machine would get."""
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


@pytest.mark.sqlite_only
def test_a_copied_database_file_holds_no_personal_data(node: Container) -> None:
    """Names, streets, e-mails, phones and references are nowhere in the database files."""
    customer = new_customer(node)
    new_items(node, customer.record.id, 20)
    node.rebuilder.rebuild()
    db = Path(node.settings.db_url.removeprefix("sqlite:///"))
    raw = database_bytes(db)
    assert len(raw) > 50_000
    for text in MARKED:
        assert text.encode() not in raw, text
        assert text.lower().encode() not in raw.lower(), text


def test_the_owner_reads_their_items_personal_data(node: Container) -> None:
    """Decryption gives the owner back exactly what was sent."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    view = get_item(node.ctx, customer.record.id, item.id)
    assert view.personal is not None
    assert view.personal["addressee"]["name"] == ITEM["addressee"]["name"]
    assert view.personal["contents"]["lines"][0]["hs_code"] == "610910"


def test_erasure_destroys_the_key_but_keeps_tracking_and_the_chain(node: Container) -> None:
    """After erasure nothing personal opens, the item is still trackable, the log verifies."""
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    other = new_customer(node, "Other Ltd")
    [kept] = new_items(node, other.record.id)
    erase_customer(node.ctx, customer.record.id, reason="test")
    node.vault.forget_cached()
    assert get_item(node.ctx, customer.record.id, item.id).personal is None
    with node.store.read() as uow, pytest.raises(KeyUnavailableError):
        node.vault.open(
            uow, customer.record.id, f"item|{customer.record.id}|{item.id}", item.sealed
        )
    assert public_tracking(node.ctx, item.id).status == "pre_advised"
    assert get_item(node.ctx, other.record.id, kept.id).personal is not None
    assert all(r.ok for r in verify_store(node.store, node.trusted_keys()))


@pytest.mark.sqlite_only
def test_erased_key_bytes_are_gone_from_the_sqlite_file(node: Container) -> None:
    """secure_delete overwrites the destroyed wrapped key inside the file."""
    customer = new_customer(node)
    with node.store.read() as uow:
        from postex.eventlog.ports import DataKeys

        _kid, wrapped = uow.repo(DataKeys).get(customer.record.id) or ("", b"")
    assert wrapped
    erase_customer(node.ctx, customer.record.id)
    db = Path(node.settings.db_url.removeprefix("sqlite:///"))
    node.close()
    assert wrapped not in database_bytes(db)


def test_key_rotation_rewraps_without_touching_events(tmp_path: Path, db_url: str) -> None:
    """After `postex keys rotate` the KEK id changes, old events are identical, data opens."""
    node = make_node(tmp_path / "home", db_url)
    customer = new_customer(node)
    [item] = new_items(node, customer.record.id)
    before = [(e.seq, e.hash) for e in node.store.read_events("GBLALA")]
    kek_file = tmp_path / "home" / "keys" / "kek.json"
    old_id = json.loads(kek_file.read_text())["active"]
    node.close()
    result = CliRunner().invoke(
        app, ["keys", "rotate", "--db", db_url, "--home", str(tmp_path / "home")]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(kek_file.read_text())
    assert data["active"] != old_id
    assert list(data["keys"]) == [data["active"]]
    assert stat.S_IMODE(kek_file.stat().st_mode) == 0o600
    node = make_node(tmp_path / "home", db_url)
    after = [(e.seq, e.hash) for e in node.store.read_events("GBLALA")]
    assert after[: len(before)] == before
    assert get_item(node.ctx, customer.record.id, item.id).personal is not None
    node.close()


def test_an_erasure_by_another_process_takes_effect_at_the_next_transaction(
    tmp_path: Path, db_url: str
) -> None:
    """A running server (node A, its keys already cached) stops opening and sealing an
    erased customer's data as soon as another process (node B, the CLI) erased it."""
    server = make_node(tmp_path / "home", db_url)
    cli = make_node(tmp_path / "home", db_url)
    try:
        customer = new_customer(server)
        [item] = new_items(server, customer.record.id)
        assert get_item(server.ctx, customer.record.id, item.id).personal is not None
        erase_customer(cli.ctx, customer.record.id, reason="test")
        assert get_item(server.ctx, customer.record.id, item.id).personal is None
        with pytest.raises(KeyUnavailableError):  # the HTTP layer names it customer_erased
            new_items(server, customer.record.id)
    finally:
        cli.close()
        server.close()


def test_a_rotation_by_another_process_is_followed(tmp_path: Path, db_url: str) -> None:
    """A running server follows `postex keys rotate` done elsewhere: it opens re-wrapped
    keys and wraps a new customer's key under the new KEK, which the CLI then opens."""
    server = make_node(tmp_path / "home", db_url)
    try:
        customer = new_customer(server)
        [item] = new_items(server, customer.record.id)
        assert get_item(server.ctx, customer.record.id, item.id).personal is not None
        result = CliRunner().invoke(
            app, ["keys", "rotate", "--db", db_url, "--home", str(tmp_path / "home")]
        )
        assert result.exit_code == 0, result.output
        assert get_item(server.ctx, customer.record.id, item.id).personal is not None
        later = new_customer(server, "After Rotation Ltd")
        [fresh] = new_items(server, later.record.id)
        cli = make_node(tmp_path / "home", db_url)
        try:
            assert get_item(cli.ctx, later.record.id, fresh.id).personal is not None
        finally:
            cli.close()
    finally:
        server.close()
