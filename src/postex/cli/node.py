"""Node commands: init, serve, demo, verify, rebuild."""

import signal
from dataclasses import replace
from typing import Annotated

import typer

from postex.cli.common import (
    EXIT_INTEGRITY,
    DbOpt,
    HomeOpt,
    JsonOpt,
    SiteOpt,
    claimed,
    container,
    emit_json,
    err,
    handle_errors,
    out,
    progress_bar,
)

HostOpt = Annotated[str | None, typer.Option("--host", help="Listen address.")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Listen port.")]
PublishOpt = Annotated[
    bool | None,
    typer.Option(
        "--publish/--no-publish",
        help="Publish this site's log to NATS in the background (default: on for a site "
        "with a NATS URL; --no-publish when `postex replicate` runs separately).",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(serve)
    app.command()(demo)
    app.command()(verify)
    app.command()(rebuild)


@handle_errors
def init(db: DbOpt = None, home: HomeOpt = None, site: SiteOpt = None) -> None:
    """Create the key files (mode 0600) and the database schema.

    Example: postex init --home /var/lib/postex --site GBLALA
    """
    c = container(db, home, site, create=True)
    out.print(f"database ready: {c.settings.db_url}")
    out.print(f"keys in {c.settings.keys_dir} (keep them off the database host's backups)")
    c.close()


def _serve(
    c_db: str | None,
    home: str | None,
    site: str | None,
    host: str | None,
    port: int | None,
    create: bool,
    publish: bool | None = False,
) -> None:
    import uvicorn

    from postex.bootstrap import build
    from postex.config import load_settings
    from postex.network.cli.loops import serve_publisher
    from postex.server import create_app

    settings = load_settings(db_url=c_db, home=home, site=site, host=host, port=port)
    if settings.role == "hub":  # sites deliver their customers' webhooks; a hub would repeat them
        settings = replace(settings, webhook_worker_seconds=0)
    c = build(settings, create=create, claim=True)
    try:
        publisher = serve_publisher(c, publish)
    except BaseException:
        c.close()
        raise
    out.print(f"Postex {settings.role} node for site {settings.site} on {settings.db_url}")
    if publisher is not None:
        out.print(f"publishing {settings.site} to {settings.nats_url} in the background")
        publisher.start()
    out.print(f"serving at http://{settings.host}:{settings.port}  (Ctrl+C to stop)")
    # uvicorn shuts down gracefully on SIGTERM, then raises it again with the handler it
    # found: make that handler an ordinary exit, so the publisher and the store close too.
    previous = signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        uvicorn.run(create_app(c), host=settings.host, port=settings.port, log_level="warning")
    except KeyboardInterrupt:  # Ctrl+C, raised again by uvicorn after its shutdown
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if publisher is not None and not publisher.stop():
            err.print("publisher did not stop in time; it resumes from the last acknowledged seq")
        c.close()


def _exit_quietly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


@handle_errors
def serve(
    db: DbOpt = None,
    home: HomeOpt = None,
    site: SiteOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
    publish: PublishOpt = None,
) -> None:
    """Run the HTTP API (and, on a site with a NATS URL, publish its log to the hub).

    Example: postex serve --host 0.0.0.0 --port 8000
    """
    _serve(db, home, site, host, port, create=False, publish=publish)


@handle_errors
def demo(
    db: DbOpt = None,
    home: HomeOpt = None,
    site: SiteOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
    seed_only: Annotated[bool, typer.Option("--seed-only", help="Seed and exit.")] = False,
) -> None:
    """Set up a single node with demo customers and items, then serve it.

    Example: postex demo            (what `make run` does)
    """
    from postex.demo import seed_demo, seed_demo_sender, seed_demo_staff

    c = container(db, home, site, create=True)
    result = seed_demo(c.ctx)
    if result.items:
        out.print(f"seeded {result.customers} demo customers and {len(result.items)} items")
    some = [i.id for i in result.items[:3]]
    sign_ins = seed_demo_staff(c.ctx)
    demo_sender = seed_demo_sender(c.ctx)
    address = f"http://{host or c.settings.host}:{port or c.settings.port}"
    c.close()
    if some:
        out.print("try: " + "  ".join(f"/api/v1/tracking/{i}" for i in some))
    out.print(f"staff console: {address}/console")
    out.print("demo sign-ins (supervisor and ops set up TOTP at first sign-in):")
    for name, role, password in sign_ins:
        out.print(f"  {role:<10} username {name:<16} password {password}")
    if demo_sender is not None:
        name, business, password = demo_sender
        out.print(f"sender portal: {address}/portal  (a sender of {business})")
        out.print(f"  {'sender':<10} username {name:<16} password {password}")
    if not seed_only:
        _serve(db, home, site, host, port, create=False)


@handle_errors
def verify(
    db: DbOpt = None,
    home: HomeOpt = None,
    site: Annotated[str | None, typer.Option("--site", help="Only this site's log.")] = None,
    as_json: JsonOpt = False,
    hub: Annotated[
        bool, typer.Option("--hub", help="A hub: also countersignatures and integrity alarms.")
    ] = False,
) -> None:
    """Verify every hash, link and signed checkpoint; exit 1 naming the first bad seq.

    Example: postex verify --site GBLALA      (on a hub: postex verify --hub)
    """
    from postex.network.app.integrity import verify_store

    c = container(db, home)
    if hub:
        from postex.network.cli.replication import verify_hub

        try:
            verify_hub(c, as_json)
        finally:
            c.close()
        return
    total = sum(c.store.head(s)[0] for s in ([site] if site else c.store.sites()))
    with progress_bar("verifying", total) as update:
        reports = verify_store(c.store, c.trusted_keys(), site, update)
    c.close()
    bad = [r for r in reports if not r.ok]
    if as_json:
        emit_json(
            {
                "ok": not bad,
                "sites": [
                    {
                        "site": r.site,
                        "head_seq": r.head_seq,
                        "events_checked": r.events_checked,
                        "checkpoints_checked": r.checkpoints_checked,
                        "first_bad_seq": r.first_fault.seq if r.first_fault else None,
                        "reason": r.first_fault.reason if r.first_fault else None,
                    }
                    for r in reports
                ],
            }
        )
    for r in reports:
        f = r.first_fault
        if f is None:
            err.print(
                f"[green]ok[/green] {r.site}: {r.events_checked} events, "
                f"{r.checkpoints_checked} checkpoints"
            )
        else:
            err.print(f"[red]BAD[/red] site {f.site} seq {f.seq}: {f.reason}")
    if bad:
        raise typer.Exit(EXIT_INTEGRITY)


@handle_errors
def rebuild(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Drop every projection and recreate it from the log (a hub: in arrival order).

    Refused when the configured role contradicts the one recorded in the database.

    Example: postex rebuild --db postgresql://postgres@127.0.0.1:5432/postex
    """
    c = claimed(db, home)
    total = sum(c.store.head(s)[0] for s in c.store.sites())
    with progress_bar("rebuilding", total) as update:
        # The role is the database's (claimed above): a hub's in the order the copies
        # arrived, as applied live; anything else merged by recorded time.
        if c.settings.role == "hub":
            from postex.bootstrap import replication

            n = replication(c).rebuild_hub(update)
        else:
            n = c.rebuilder.rebuild(update)
    c.close()
    out.print(f"rebuilt projections from {n} events")
