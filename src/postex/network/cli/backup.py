"""``postex backup --to DIR``, ``postex backup verify DIR`` and ``postex restore``."""

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from postex.cli.common import (
    EXIT_INTEGRITY,
    DbOpt,
    Group,
    HomeOpt,
    JsonOpt,
    container,
    emit_json,
    err,
    handle_errors,
    out,
    progress_bar,
)
from postex.config import Settings, load_settings
from postex.kernel.errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from postex.bootstrap import Container
    from postex.network.app.restore import RestoreReport, RestoreSource

app = typer.Typer(cls=Group, invoke_without_command=True)
SQLITE_MAGIC = b"SQLite format 3\x00"


@app.callback()
@handle_errors
def backup(
    ctx: typer.Context,
    to: Annotated[str | None, typer.Option("--to", help="An empty directory to write.")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="An earlier backup (full or incremental): write only the events after it.",
        ),
    ] = None,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Write the log as signed gzip segments with checkpoints and a manifest.

    Example: postex backup --to /mnt/backups/postex-2026-11-23
    Incremental: postex backup --to /mnt/backups/px-11-24 --since /mnt/backups/px-11-23
    """
    if ctx.invoked_subcommand is not None:
        return
    from postex.bootstrap import replication

    if not to:
        raise ValidationError.single("to", "required", "", "give --to DIR")
    c = container(db, home)
    try:
        total = sum(c.store.head(s)[0] for s in c.store.sites())
        rep = replication(c)
        with progress_bar("backing up", total) as update:
            heads = rep.backup_writer().write(Path(to), update, Path(since) if since else None)
        written = rep.backup_reader(Path(to)).newest
    finally:
        c.close()
    for site, head in heads.items():
        first = written.from_seq(site)
        out.print(f"{site}: events {first}..{head}" if first <= head else f"{site}: no new events")
    kind = f"incremental backup on {since}" if since else "backup"
    out.print(f"{kind} written to {to} (the key-encryption key is not in it)")


@app.command("verify")
@handle_errors
def verify(
    directory: Annotated[str, typer.Argument(help="The backup directory.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a backup without restoring it: signature, file digests, every hash, checkpoints.

    Example: postex backup verify /mnt/backups/postex-2026-11-23
    """
    from postex.bootstrap import replication
    from postex.network.app.backup import verify_backup

    c = container(None, home)
    reader = replication(c).backup_reader(Path(directory))
    trusted = c.trusted_keys()
    c.close()
    total = sum(reader.head(s) for s in reader.sites())
    with progress_bar("verifying backup", total) as update:
        reports = verify_backup(reader, trusted, update)
    bad = [r for r in reports if not r.ok]
    if as_json:
        emit_json(
            {"ok": not bad, "sites": [
                {"site": r.site, "head_seq": r.head_seq, "events_checked": r.events_checked,
                 "first_bad_seq": r.first_fault.seq if r.first_fault else None,
                 "reason": r.first_fault.reason if r.first_fault else None}
                for r in reports]}
        )  # fmt: skip
    for r in reports:
        f = r.first_fault
        if f is None:
            err.print(f"[green]ok[/green] {r.site}: {r.events_checked} events")
        else:
            err.print(f"[red]BAD[/red] site {f.site} seq {f.seq}: {f.reason}")
    if bad:
        raise typer.Exit(EXIT_INTEGRITY)


def _quarantine(settings: Settings) -> Path | None:
    """Move an unreadable SQLite file (and its WAL) aside, keeping it as evidence."""
    if not settings.db_url.startswith("sqlite:///"):
        return None
    path = Path(settings.db_url.removeprefix("sqlite:///"))
    if not path.exists():
        return None
    with path.open("rb") as f:
        if f.read(16) == SQLITE_MAGIC:
            return None
    aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
    path.rename(aside)
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            extra.rename(aside.with_name(aside.name + suffix))
    return aside


def missing_keys(settings: "Settings", site: str) -> list[str]:
    """The key files a restore of ``site`` needs that this home lacks. They are never in
    the database or a backup (by design): they come from the site's key backup."""
    import os

    from postex.network.log_keys import log_key_path
    from postex.network.signing import signer_path

    wanted = [] if os.environ.get("POSTEX_KEK") else [settings.keys_dir / "kek.json"]
    wanted.append(signer_path(settings.keys_dir, site))
    wanted.append(log_key_path(settings.keys_dir, site))
    return [str(path) for path in wanted if not path.exists()]


def open_target(
    db: str | None, home: str | None, site: str | None, force: bool, role: str | None = None
) -> "Container":
    """The restore's target node. ``role``: the role to record in an emptied database unless
    one is configured (a log restored from the hub is a site's, so its node is a site)."""
    from postex.bootstrap import build

    settings = load_settings(db_url=db, home=home, site=site)
    if role is not None and not settings.is_given("role"):
        settings = load_settings(db_url=db, home=home, site=site, role=role)
    absent = missing_keys(settings.resolved(), site or settings.site)
    if absent:
        raise ConfigurationError(
            f"restore needs this site's keys and {', '.join(absent)} "
            f"{'is' if len(absent) == 1 else 'are'} missing: copy them from the site's key "
            "backup (the key-encryption key may come from POSTEX_KEK instead), then run the "
            "restore again (docs/operations.md, 'Restore a site after ransomware')"
        )
    aside = _quarantine(settings)
    if aside is not None:
        err.print(f"the store was unreadable; kept as evidence at {aside}")
    c = build(settings, create=True)
    if any(c.store.head(s)[0] for s in c.store.sites()):
        if not force:
            c.close()
            raise ValidationError.single(
                "db", "empty", settings.db_url, "the target holds a log; pass --force to wipe it"
            )
        c.admin.wipe()
    return c


def run_restore(c: "Container", site: str, source: "RestoreSource") -> "RestoreReport":
    from postex.bootstrap import replication
    from postex.network.app.restore import restore_site

    rep = replication(c)
    with progress_bar(f"restoring {site} from {source.kind}", source.head(site)) as update:
        return restore_site(
            c.store, c.admin, rep.state, site, source, c.trusted_keys(), rep.now, update
        )


@handle_errors
def restore(
    site: Annotated[str, typer.Option("--site", help="The site whose log to restore.")],
    source: Annotated[str, typer.Option("--from", help="`hub` or a backup directory.")],
    hub_db: Annotated[
        str | None,
        typer.Option("--hub-db", help="Read the hub's database directly instead of over NATS."),
    ] = None,
    nats: Annotated[
        str | None, typer.Option("--nats", help="NATS URL of the hub (default: nats_url).")
    ] = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Wipe a target that holds a log.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild a wiped site from the hub's verified copy or from a backup, then resume.

    Verifies every hash, every checkpoint and (from the hub) the newest countersigned
    checkpoint; a tampered copy is refused with exit code 1 and nothing is kept.

    From the hub the copy is read over NATS from `postex hub consume` (or, with --hub-db,
    straight from the hub's database).

    Example: postex restore --site GBLALA --from hub --nats nats://hub.example:4222
    """
    from postex.bootstrap import replication

    # The hub holds only sites' logs: a node restored from it is a site of the network (an
    # emptied database would otherwise record the default role, single, and never publish).
    c = open_target(db, home, site, force, role="site" if source == "hub" else None)
    rep = replication(c)
    if source == "hub" and hub_db:
        src: RestoreSource = rep.hub_source(hub_db, c.ctx.clock)
    elif source == "hub":
        url = nats or c.settings.nats_url
        if not url:
            raise ValidationError.single("nats", "required", "", "--from hub needs --nats URL")
        src = rep.nats_source(url)
    else:
        reader = rep.backup_reader(Path(source))
        reader.check_manifest(c.trusted_keys())
        src = reader
    report = run_restore(c, site, src)
    c.close()
    if as_json:
        emit_json(report.__dict__)
        return
    out.print(
        f"restored {report.site} from {report.source}: {report.events} events verified, "
        f"head {report.head_seq}, newest checkpoint {report.checkpoint_seq}"
        f"{' (witnessed)' if report.witnessed else ''}, {report.data_keys} data keys, "
        f"{report.seconds:.1f} s; writing resumes at seq {report.head_seq + 2}"
    )
