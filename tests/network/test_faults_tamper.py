"""A tampered hub copy is found by `postex verify --hub`, and no site is restored from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from postex.bootstrap import Container, replication
from postex.eventlog.events import NewEvent
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.errors import IntegrityError
from postex.network.app.restore import restore_site
from tests.conftest import make_node
from tests.network.conftest import Loops, pair, start_replication, wait_until

pytestmark = pytest.mark.nats


def _replicated(tmp_path: Path, nats_url: str, prefix: str, hub_url: str,
                loops: Loops) -> tuple[Container, Container]:  # fmt: skip
    site, hub = pair(tmp_path, nats_url, prefix, hub_url, checkpoint_every=10)
    for start in range(0, 35, 5):  # checkpoints at 10, 20 and 30
        with site.store.write("GBLALA") as uow:
            uow.append([NewEvent("test.thing.v1", {"n": start + i}) for i in range(5)])
    start_replication(loops, site, hub)
    wait_until(lambda: hub.store.head("GBLALA") == site.store.head("GBLALA"), what="copy")
    rep = replication(hub)
    wait_until(lambda: len(rep.state.witnesses("GBLALA")) == 3, what="witnesses")
    loops.close()
    return site, hub


def _verify_hub(hub: Container) -> tuple[int, dict[str, object]]:
    run = subprocess.run(
        [sys.executable, "-m", "postex", "verify", "--hub", "--json", "--db",
         hub.settings.db_url, "--home", str(hub.settings.home)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return run.returncode, json.loads(run.stdout.splitlines()[-1])


def _restore_from(hub: Container, tmp_path: Path, site: Container) -> Container:
    target = make_node(site.settings.home, f"sqlite:///{tmp_path / 'restored.db'}", role="site")
    rep = replication(target)
    source = replication(hub).hub_source(hub.settings.db_url, hub.ctx.clock)
    with pytest.raises(IntegrityError):
        restore_site(
            target.store, target.admin, rep.state, "GBLALA", source, target.trusted_keys(),
            rep.now,
        )  # fmt: skip
    source.store.dispose()
    return target


def test_changed_byte_is_found_and_restore_refused(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """One changed byte in the hub's copy: verify --hub names the seq; restoring is refused."""
    site, hub = _replicated(tmp_path, nats_url, prefix, sqlite_hub_url, loops)
    execute_raw(
        hub.engine, "UPDATE events SET body = ? WHERE site = 'GBLALA' AND seq = 17", (b'{"n":61}',)
    )
    code, report = _verify_hub(hub)
    assert code == 1
    assert report["sites"] == [
        {"site": "GBLALA", "head_seq": 16, "ok": False, "behind_to": None,
         "first_bad_seq": 17, "reason": "hash does not match the stored event"}
    ]  # fmt: skip
    target = _restore_from(hub, tmp_path, site)
    assert target.store.head("GBLALA")[0] == 0  # nothing of the tampered copy is kept


def test_deleted_event_is_found_and_restore_refused(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """A deleted event in the hub's copy is a gap: verify --hub finds it; restoring is refused."""
    site, hub = _replicated(tmp_path, nats_url, prefix, sqlite_hub_url, loops)
    execute_raw(hub.engine, "DELETE FROM events WHERE site = 'GBLALA' AND seq = 22")
    code, report = _verify_hub(hub)
    assert code == 1
    assert report["sites"][0]["first_bad_seq"] == 22  # type: ignore[index]
    target = _restore_from(hub, tmp_path, site)
    assert target.store.head("GBLALA")[0] == 0


def test_rewritten_tail_is_refused_by_the_witnessed_checkpoint(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """A hub copy truncated behind its newest checkpoint is refused even though its chain links."""
    site, hub = _replicated(tmp_path, nats_url, prefix, sqlite_hub_url, loops)
    execute_raw(hub.engine, "DELETE FROM events WHERE site = 'GBLALA' AND seq > 25")
    execute_raw(hub.engine, "UPDATE heads SET seq = 25 WHERE site = 'GBLALA'")
    code, _ = _verify_hub(hub)
    assert code == 1
    target = _restore_from(hub, tmp_path, site)
    assert target.store.head("GBLALA")[0] == 0
