"""A site's store destroyed while another keeps working; the hub's store destroyed and rebuilt."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from postex.bootstrap import Container, replication
from postex.eventlog.verify import verify_site
from postex.items.app.preadvice import get_item
from postex.network.app.backup import verify_backup
from postex.network.app.drill import Traffic
from postex.network.app.integrity import verify_store
from postex.network.app.restore import restore_site
from tests.conftest import make_node
from tests.factories import new_customer, new_items
from tests.network.conftest import Loops, pair, trust, wait_until

pytestmark = [pytest.mark.nats, pytest.mark.slow]


def _second_site(tmp_path: Path, hub: Container, nats_url: str, prefix: str) -> Container:
    other = make_node(
        tmp_path / "site-GBLGWA", f"sqlite:///{tmp_path / 'site-GBLGWA.db'}", site="GBLGWA",
        role="site", nats_url=nats_url, nats_prefix=prefix,
    )  # fmt: skip
    trust(hub, other, "GBLGWA")
    trust(other, hub, "HUB")
    return other


def _converges(hub: Container, site: Container) -> None:
    name = site.settings.site
    wait_until(lambda: hub.store.head(name) == site.store.head(name), 30, name)


def _witnessed(hub: Container, name: str, count: int) -> None:
    state = replication(hub).state
    wait_until(lambda: len(state.witnesses(name)) == count, 20, "witnesses")


def _keys_copy(site_home: Path, home: Path) -> Path:
    """Another machine holding the site's keys from its key backup, not its local anchor:
    each restored database is a log of its own, and one home's anchor vouches for one log."""
    shutil.copytree(site_home / "keys", home / "keys", ignore=shutil.ignore_patterns("anchor-*"))
    return home


def _restore(target: Container, source: object) -> None:
    rep = replication(target)
    restore_site(
        target.store, target.admin, rep.state, "GBLALA", source, target.trusted_keys(), rep.now
    )  # type: ignore[arg-type]


@pytest.mark.postgres
def test_site_destroyed_is_restored_from_hub_and_from_backup_while_another_site_works(
    tmp_path: Path, nats_url: str, prefix: str, pg_hub_url: str, loops: Loops
) -> None:
    """Ransomware at one site: restores from the PostgreSQL hub (its database, and over
    NATS) and from a backup all verify and read personal data again, while the second site
    keeps taking traffic throughout."""
    site, hub = pair(tmp_path, nats_url, prefix, pg_hub_url, checkpoint_every=25)
    other = _second_site(tmp_path, hub, nats_url, prefix)
    customer = new_customer(site)
    items = new_items(site, customer.record.id, n=40)
    loops.start(replication(hub).consumer(hub.trusted_keys()).run)
    site_publisher = loops.start(replication(site).publisher().run)
    loops.start(replication(other).publisher().run)
    other_traffic = Traffic(other.ctx, new_customer(other).record.id, batch=2, pause_s=0.05)
    other_traffic.start()
    site.admin.checkpoint_now("GBLALA")
    wait_until(lambda: hub.store.head("GBLALA") == site.store.head("GBLALA"), 30, "copy")
    wait_until(lambda: len(replication(hub).state.witnesses("GBLALA")) >= 1, 30, "witness")
    wait_until(lambda: len(replication(hub).state.data_keys("GBLALA")) == 1, 30, "keys")
    backup_dir = tmp_path / "backup"
    replication(site).backup_writer().write(backup_dir)
    head = site.store.head("GBLALA")
    loops.stop_one(site_publisher)  # the site's processes die with its store
    site.close()
    db_file = tmp_path / "site-GBLALA.db"
    db_file.write_bytes(os.urandom(db_file.stat().st_size))  # ransomware
    before = other_traffic.items

    from_hub = make_node(site.settings.home, f"sqlite:///{tmp_path / 'from-hub.db'}", role="site")
    source = replication(hub).hub_source(pg_hub_url, hub.ctx.clock)
    _restore(from_hub, source)
    source.store.dispose()
    bk_home = _keys_copy(site.settings.home, tmp_path / "home-bk")
    from_backup = make_node(bk_home, f"sqlite:///{tmp_path / 'from-bk.db'}", role="site")
    reader = replication(from_backup).backup_reader(backup_dir)
    assert all(r.ok for r in verify_backup(reader, from_backup.trusted_keys()))
    _restore(from_backup, reader)

    over_nats = make_node(
        _keys_copy(site.settings.home, tmp_path / "home-nats"), f"sqlite:///{tmp_path / 'nats.db'}",
        role="site", nats_url=nats_url, nats_prefix=prefix,
    )  # fmt: skip
    nats_source = replication(over_nats).nats_source()
    _restore(over_nats, nats_source)
    nats_source.close()

    for restored in (from_hub, from_backup, over_nats):
        assert restored.store.head("GBLALA")[0] == head[0] + 1  # the restore is audited
        report = verify_store(
            restored.store, restored.trusted_keys(), "GBLALA", authority=restored.authority
        )[0]
        assert report.ok and report.authenticated, report.faults
        live = restored.rebuilder.projection_digest()
        restored.rebuilder.rebuild()
        assert restored.rebuilder.projection_digest() == live  # restored projections == a rebuild
        view = get_item(restored.ctx, customer.record.id, items[0].id)
        assert view.record.id == items[0].id  # personal data opens: data keys came back
    other_traffic.stop()
    assert other_traffic.items > before  # the other site never stopped
    wait_until(lambda: hub.store.head("GBLGWA") == other.store.head("GBLGWA"), 30, "GBLGWA")
    assert replication(hub).state.alarms() == []
    loops.close()
    hub.close()


def test_hub_destroyed_is_rebuilt_from_the_sites_and_their_checkpoints(
    tmp_path: Path, nats_url: str, prefix: str, sqlite_hub_url: str, loops: Loops
) -> None:
    """A new, empty hub store asks the sites to re-publish and ends verified against the
    checkpoints the sites themselves hold."""
    site, hub = pair(tmp_path, nats_url, prefix, sqlite_hub_url, checkpoint_every=20)
    other = _second_site(tmp_path, hub, nats_url, prefix)
    new_items(site, new_customer(site).record.id, n=45)
    new_items(other, new_customer(other).record.id, n=30)
    site.admin.checkpoint_now("GBLALA")
    other.admin.checkpoint_now("GBLGWA")
    loops.start(replication(site).publisher().run)
    loops.start(replication(other).publisher().run)
    hub_stop = loops.start(replication(hub).consumer(hub.trusted_keys()).run)
    for s in (site, other):
        _converges(hub, s)
    loops.stop_one(hub_stop)
    hub.close()
    Path(sqlite_hub_url.removeprefix("sqlite:///")).unlink()  # the hub's store is gone
    for suffix in ("-wal", "-shm"):
        Path(sqlite_hub_url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    new_hub = make_node(hub.settings.home, sqlite_hub_url, site="HUB", role="hub",
                        nats_url=nats_url, nats_prefix=prefix)  # fmt: skip
    assert new_hub.store.sites() == []
    loops.start(replication(new_hub).consumer(new_hub.trusted_keys()).run)
    for s in (site, other):
        name = s.settings.site
        _converges(new_hub, s)
        copy = verify_site(name, new_hub.store.read_events(name), s.store.checkpoints(name),
                           new_hub.trusted_keys())  # fmt: skip
        assert copy.ok and copy.checkpoints_checked == len(s.store.checkpoints(name)) > 0
        _witnessed(new_hub, name, len(s.store.checkpoints(name)))
    assert replication(new_hub).state.alarms() == []
