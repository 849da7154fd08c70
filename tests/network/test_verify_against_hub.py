"""`postex verify --against-hub`: the newest checkpoint the hub witnessed is an anchor no
one on the site's host can roll back (issue #15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postex.bootstrap import Container, replication
from postex.cli.main import app
from postex.eventlog.sql.admin import execute_raw
from tests.factories import new_customer, new_items
from tests.network.conftest import Loops, pair, start_replication, trust, wait_until

pytestmark = pytest.mark.nats
runner = CliRunner()


def _verify(site: Container, *extra: str) -> tuple[int, dict[str, object]]:
    s = site.settings
    env = {"POSTEX_NATS_PREFIX": s.nats_prefix, "POSTEX_NATS_URL": s.nats_url or "",
           "POSTEX_ROLE": s.role, "POSTEX_SITE": s.site}  # fmt: skip
    result = runner.invoke(
        app, ["verify", "--db", s.db_url, "--home", str(s.home), "--json", *extra], env=env
    )
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def test_a_tail_cut_with_head_row_and_anchor_gone_is_found_against_the_hub(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """Someone with the host cuts the tail and removes the head row and the local anchor:
    the site alone now trusts the shorter log on first use; the hub's witness does not."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url, checkpoint_every=5)
    trust(site, hub, "HUB")  # the site trusts the hub's countersignatures
    new_items(site, new_customer(site).record.id, n=12)
    site.admin.checkpoint_now("GBLALA")
    start_replication(loops, site, hub)
    head = site.store.head("GBLALA")[0]
    rep = replication(hub)
    wait_until(lambda: head in [w.seq for w in rep.state.witnesses("GBLALA")], what="witness")

    code, report = _verify(site, "--against-hub")
    assert code == 0, report
    assert report["hub"] == {
        "site": "GBLALA", "compared": True, "witnessed_seq": head, "ok": True,
        "note": f"the log agrees with the checkpoint the hub witnessed at seq {head}",
    }  # fmt: skip

    keep = head - 4
    for sql in ("DELETE FROM events WHERE seq > ?", "DELETE FROM checkpoints WHERE seq > ?"):
        execute_raw(site.engine, sql, [keep])
    execute_raw(site.engine, "DELETE FROM log_heads")
    execute_raw(site.engine, "UPDATE heads SET seq = ?, hash = (SELECT hash FROM events "
                             "WHERE seq = ?)", [keep, keep])  # fmt: skip
    (site.settings.keys_dir / "anchor-GBLALA.json").unlink()

    code, report = _verify(site, "--not-against-hub")
    assert code == 0  # on its own, the site cannot tell: trusted on first use
    code, report = _verify(site)  # a site with a NATS URL compares by default
    assert code == 1, report
    code, report = _verify(site, "--against-hub")
    assert code == 1
    bad = report["sites"][0]  # type: ignore[index]
    assert bad["first_bad_seq"] == keep + 1
    assert f"hub witnessed a checkpoint at {head}" in bad["reason"]
    loops.close()


def test_against_hub_without_a_reachable_hub_is_a_connection_problem(
    tmp_path: Path, node: Container
) -> None:
    """Asked for explicitly, an unreachable hub is exit 2 (never an integrity failure)."""
    new_customer(node)
    code, report = _verify(node, "--against-hub", "--nats", "nats://127.0.0.1:1")
    assert code == 2
    assert "not reachable" in json.dumps(report)


def test_events_written_without_the_log_key_never_leave_the_site(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """The publisher sends only authenticated events: a forged one stays behind, unsigned,
    and the hub's copy ends at the authenticated head."""
    from postex.eventlog.chain import event_hash

    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url)
    new_items(site, new_customer(site).record.id, n=3)
    seq, prev = site.store.head("GBLALA")
    at = "2099-01-01T00:00:00.000000Z"
    body = b'{"n":1}'
    digest = event_hash(prev, "GBLALA", seq + 1, at, "test.thing.v1", body)
    execute_raw(
        site.engine,
        "INSERT INTO events (site, seq, recorded_at, type, body, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        ["GBLALA", seq + 1, at, "test.thing.v1", body, prev, digest],
    )
    execute_raw(site.engine, "UPDATE heads SET seq = ?, hash = ?", [seq + 1, digest])
    pub, _ = start_replication(loops, site, hub)
    wait_until(lambda: hub.store.head("GBLALA")[0] == seq, what="the authenticated part")
    wait_until(lambda: pub.acked == seq, what="acknowledgement")
    assert hub.store.head("GBLALA")[0] == seq  # the forged event never arrived
    loops.close()
