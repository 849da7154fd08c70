"""`postex rebuild` on a hub checks the MACs of the hub's own log, as a site does (issue
#15): an event appended to it by someone with only the database is refused, nothing is
rebuilt, and the sites' copies (whose keys the hub does not hold) are not in the way."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex.bootstrap import replication
from postex.eventlog.chain import event_hash
from postex.eventlog.events import NewEvent
from postex.eventlog.sql.admin import execute_raw
from postex.kernel.errors import IntegrityError
from tests.conftest import make_node

HUB = "HUB"


def test_hub_rebuild_refuses_an_unauthenticated_event_in_the_hubs_own_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = make_node(tmp_path / "hub", url, site=HUB, role="hub")
    try:
        with hub.store.write(HUB) as uow:
            uow.append([NewEvent("test.thing.v1", {"n": i}) for i in range(3)])
        assert replication(hub).rebuild_hub() == 3  # the authenticated log rebuilds

        seq, prev = hub.store.head(HUB)
        at, body = "2099-01-01T00:00:00.000000Z", b'{"n":99}'
        digest = event_hash(prev, HUB, seq + 1, at, "test.thing.v1", body)
        execute_raw(
            hub.engine,
            "INSERT INTO events (site, seq, recorded_at, type, body, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [HUB, seq + 1, at, "test.thing.v1", body, prev, digest],
        )
        execute_raw(hub.engine, "UPDATE heads SET seq = ?, hash = ?, recorded_at = ?",
                    [seq + 1, digest, at])  # fmt: skip
        before = hub.rebuilder.projection_digest()
        with pytest.raises(IntegrityError, match="not authenticated") as refused:
            replication(hub).rebuild_hub()
        assert refused.value.seq == seq + 1
        assert hub.rebuilder.projection_digest() == before  # nothing changed
    finally:
        hub.close()

    from postex.cli.main import app

    monkeypatch.setenv("POSTEX_ROLE", "hub")
    monkeypatch.setenv("POSTEX_SITE", HUB)
    result = CliRunner().invoke(app, ["rebuild", "--db", url, "--home", str(tmp_path / "hub")])
    assert result.exit_code == 1, result.output
    assert f"seq {seq + 1}" in result.stderr and "not authenticated" in result.stderr
