"""What the hub receives holds neither an account's name nor a staff password hash (#15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from postex.accounts.app.customers import erase_customer
from postex.accounts.app.staff import create_user
from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from tests.factories import new_customer
from tests.network.conftest import Loops, pair, start_replication, wait_until

pytestmark = pytest.mark.nats
MARK = "Zqx Hub Marked Trader 4417"


def _events(node: Container) -> list[tuple[str, bytes]]:
    rows = execute_raw(node.engine, "SELECT type, body FROM events WHERE site = 'GBLALA'")
    return [(str(t), bytes(b)) for t, b in rows]


def test_the_hub_copy_holds_no_name_and_no_hash(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    cus = new_customer(site, MARK).record.id
    create_user(site.ctx, "j.smith", "admin", None, "correct horse battery")
    erase_customer(site.ctx, cus, reason="erasure request")
    start_replication(loops, site, hub)
    head = site.store.head("GBLALA")[0]
    wait_until(lambda: len(_events(hub)) == head, what="the hub's copy")
    received = _events(hub)
    assert {"customer.created.v2", "user.created.v2"} <= {t for t, _ in received}
    blob = b"\n".join(b for _, b in received)
    assert MARK.encode() not in blob
    assert b"$argon2" not in blob
    names = [r[0] for r in execute_raw(hub.engine, "SELECT name FROM customers")]
    assert MARK not in names
    loops.close()
