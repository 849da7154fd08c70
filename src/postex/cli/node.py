"""Node commands: init, serve, demo, verify, rebuild."""

import signal
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

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
    start_logs,
)

HostOpt = Annotated[str | None, typer.Option("--host", help="Listen address.")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Listen port.")]
PublishOpt = Annotated[
    bool | None,
    typer.Option(
        "--publish/--no-publish",
        help="Publish this node's log to NATS in the background (default: on for a site "
        "or hub with a NATS URL; --no-publish when `postex replicate` runs separately).",
        show_default=False,
    ),
]

WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        min=1,
        help="Server processes sharing the port (about one per core); metrics add them up.",
    ),
]

if TYPE_CHECKING:
    from postex.bootstrap import Container
    from postex.config import Settings
    from postex.eventlog.verify import SiteReport


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(serve)
    app.command()(demo)
    app.command()(verify)
    app.command()(rebuild)


RoleOpt = Annotated[
    str | None,
    typer.Option(
        "--role",
        help="The node's role, recorded in its database: single, site or hub (default: "
        "POSTEX_ROLE, else single). Every later command reads it from there.",
        show_default=False,
    ),
]


@handle_errors
def init(
    db: DbOpt = None, home: HomeOpt = None, site: SiteOpt = None, role: RoleOpt = None
) -> None:
    """Create the key files (mode 0600) and the database schema, and record the node's
    site and role in it (a hub's site is HUB unless given).

    Example: postex init --home /var/lib/postex --role site --site GBLALA
    """
    from postex.bootstrap import build
    from postex.config import load_settings

    c = build(load_settings(db_url=db, home=home, site=site, role=role), create=True)
    out.print(f"{c.settings.role} node for site {c.settings.site}")
    out.print(f"database ready: {c.settings.db_url}")
    out.print(f"keys in {c.settings.keys_dir} (keep them off the database host's backups)")
    c.close()


def port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be listened on now (uvicorn binds with SO_REUSEADDR too)."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def refuse_taken_port(host: str, port: int) -> None:
    """One clear line and exit 2 when the port is taken, before anything is set up."""
    if not port_free(host, port):
        err.print(
            f"[red]port {port} on {host} is taken[/red] (another Postex or another program "
            f"listens there): choose another with --port, e.g. --port {port + 1} "
            f"(make run PORT={port + 1})",
            soft_wrap=True,
        )
        raise typer.Exit(2)


def uvicorn_options(settings: "Settings") -> dict[str, Any]:
    """How uvicorn serves this node. Forwarded headers are believed only from the configured
    proxies: uvicorn's own default trusts any loopback client's X-Forwarded-For."""
    trusted = settings.trusted_proxies.strip()
    return {"host": settings.host, "port": settings.port, "log_level": "warning",
            "proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or "",
            # Postex configures logging itself (postex.logs); uvicorn picks uvloop and
            # httptools when they are installed (they are dependencies).
            "log_config": None, "access_log": False}  # fmt: skip


def worker_environment(settings: "Settings", metrics_dir: str) -> dict[str, str]:
    """What each server process of ``--workers N`` reads its settings from: the command's
    flags, as POSTEX_* variables, over the file and environment they came from."""
    return {
        "POSTEX_DB_URL": settings.db_url, "POSTEX_HOME": str(settings.home),
        "POSTEX_SITE": settings.site, "POSTEX_HOST": settings.host,
        "POSTEX_PORT": str(settings.port), "POSTEX_KEYS_DIR": str(settings.keys_dir),
        "POSTEX_WEBHOOK_WORKER_SECONDS": str(settings.webhook_worker_seconds),
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
    }  # fmt: skip


def _metrics_dir() -> tuple[str, bool]:
    """An empty directory for the workers' metric files: PROMETHEUS_MULTIPROC_DIR if set,
    else a new temporary one; and whether it was made here (and so is removed after)."""
    import os
    import tempfile
    from pathlib import Path

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not given:
        return tempfile.mkdtemp(prefix="postex-metrics-"), True
    Path(given).mkdir(parents=True, exist_ok=True)
    for old in Path(given).glob("*.db"):  # counters of a previous run would add up
        old.unlink()
    return given, False


def _serve(
    c_db: str | None,
    home: str | None,
    site: str | None,
    host: str | None,
    port: int | None,
    create: bool,
    publish: bool | None = False,
    workers: int = 1,
) -> None:
    import os
    import shutil
    from pathlib import Path

    import uvicorn

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:  # prometheus-client refuses a directory that does not exist, at import
        Path(given).mkdir(parents=True, exist_ok=True)

    from postex.bootstrap import build
    from postex.cli.workers import Workers, listening_sockets
    from postex.config import load_settings
    from postex.network.cli.loops import serve_publisher
    from postex.server import create_app

    settings = load_settings(db_url=c_db, home=home, site=site, host=host, port=port)
    refuse_taken_port(settings.host, settings.port)
    start_logs(settings)
    c = build(settings, create=create, claim=True)
    settings = c.settings  # the node's site and role: its database's
    if settings.role == "hub":  # sites deliver their customers' webhooks; a hub would repeat them
        settings = c.settings = replace(settings, webhook_worker_seconds=0)
    try:
        publisher = serve_publisher(c, publish)
    except BaseException:
        c.close()
        raise
    out.print(f"Postex {settings.role} node for site {settings.site} on {settings.db_url}")
    if publisher is not None:
        out.print(f"publishing {settings.site} to {settings.nats_url} in the background")
        publisher.start()
    many = f" with {workers} workers" if workers > 1 else ""
    out.print(f"serving at http://{settings.host}:{settings.port}{many}  (Ctrl+C to stop)")
    # uvicorn shuts down gracefully on SIGTERM, then raises it again with the handler it
    # found: make that handler an ordinary exit, so the publisher and the store close too.
    previous = signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        # Behind a TLS proxy named in trusted_proxies, X-Forwarded-Proto makes the request
        # https (and so the console's cookies Secure); from any other address it is ignored.
        if workers == 1:
            uvicorn.run(create_app(c), **uvicorn_options(settings))
        else:
            # Each worker process builds its own node from the environment (server.
            # app_from_environment); this process keeps the publisher and supervises them.
            metrics_dir, made = _metrics_dir()
            os.environ.update(worker_environment(settings, metrics_dir))
            try:
                config = uvicorn.Config("postex.server:app_from_environment", factory=True,
                                        workers=workers, **uvicorn_options(settings))  # fmt: skip
                sockets = listening_sockets(settings.host, settings.port, workers)
                try:
                    Workers(config, sockets).run()  # a socket per worker (postex.cli.workers)
                finally:
                    for sock in sockets:
                        sock.close()
            finally:
                if made:
                    shutil.rmtree(metrics_dir, ignore_errors=True)
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
    workers: WorkersOpt = 1,
) -> None:
    """Run the HTTP API (and, on a site or hub with a NATS URL, publish its log).

    Example: postex serve --host 0.0.0.0 --port 8000 --workers 2
    """
    _serve(db, home, site, host, port, create=False, publish=publish, workers=workers)


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
    from postex.demo import (
        DEMO_SHOWN_STATES,
        seed_demo,
        seed_demo_day,
        seed_demo_sender,
        seed_demo_staff,
    )

    if not seed_only:
        from postex.config import load_settings

        wanted = load_settings(db_url=db, home=home, site=site, host=host, port=port)
        refuse_taken_port(wanted.host, wanted.port)
    c = container(db, home, site, create=True)
    try:
        result = seed_demo(c.ctx)
        sign_ins = seed_demo_staff(c.ctx)
        demo_sender = seed_demo_sender(c.ctx)
        day = seed_demo_day(c.ctx, c.site_ops, result.items) if result.items else None
    finally:
        c.close()
    address = f"http://{host or c.settings.host}:{port or c.settings.port}"
    if result.items:
        out.print(f"seeded {result.customers} demo customers and {len(result.items)} items, "
                  "taken through a day at the site")  # fmt: skip
    out.print(f"\n[bold]landing page[/bold]  {address}/")
    out.print(f"[bold]staff console[/bold] {address}/console")
    out.print(f"[bold]sender portal[/bold] {address}/portal")
    out.print(f"[bold]API reference[/bold] {address}/docs")
    if day is not None:
        out.print("tracking pages, one item in each state of the day:")
        for state in DEMO_SHOWN_STATES:
            if state in day.examples:
                out.print(f"  {state.replace('_', ' '):<14} {address}/track/{day.examples[state]}")
    out.print("demo sign-ins, local demo only (all but the clerk set up TOTP first):")
    for name, role, password in sign_ins:
        out.print(f"  {role:<10} username {name:<16} password {password}")
    if demo_sender is not None:
        name, _business, password = demo_sender
        out.print(f"  {'sender':<10} username {name:<16} password {password}  (portal)")
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
    against_hub: Annotated[
        bool | None,
        typer.Option(
            "--against-hub/--not-against-hub",
            help="Also compare this site's log with the newest checkpoint the hub witnessed "
            "(over NATS from `postex hub consume`). Default: on for a site with a NATS URL, "
            "where an unreachable hub is only noted; asked for explicitly, it is exit 2.",
            show_default=False,
        ),
    ] = None,
    nats: Annotated[
        str | None, typer.Option("--nats", help="NATS URL of the hub (default: nats_url).")
    ] = None,
) -> None:
    """Verify every hash, link, signed checkpoint and the authenticated head; exit 1 naming
    the first bad seq.

    Example: postex verify --site GBLALA      (on a hub: postex verify --hub)
    """
    from postex.network.app.integrity import behind, verify_store

    c = container(db, home)
    if hub:
        from postex.network.cli.replication import verify_hub

        try:
            verify_hub(c, as_json)
        finally:
            c.close()
        return
    try:
        total = sum(c.store.head(s)[0] for s in ([site] if site else c.store.sites()))
        with progress_bar("verifying", total) as update:
            reports = verify_store(c.store, c.trusted_keys(), site, update, c.authority,
                                   own_site=c.settings.site)  # fmt: skip
        hub_check = _against_hub(c, reports, against_hub, nats)
        _record_verification(c, reports, site)
    finally:
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
                        "authenticated": r.authenticated,
                        "behind_to": r.behind_to or None,
                    }
                    for r in reports
                ],
                "hub": hub_check,
            }
        )
    for r in reports:
        f = r.first_fault
        if f is None:
            how = {True: ", authenticated head", None: ""}.get(
                r.authenticated, ", no authenticated head yet (recorded at the next write)"
            )
            err.print(
                f"[green]ok[/green] {r.site}: {r.events_checked} events, "
                f"{r.checkpoints_checked} checkpoints{how}{behind(r)}"
            )
        else:
            err.print(f"[red]BAD[/red] site {f.site} seq {f.seq}: {f.reason}")
    if hub_check is not None and hub_check.get("note"):
        err.print(f"hub: {hub_check['note']}")
    if bad:
        raise typer.Exit(EXIT_INTEGRITY)


def _record_verification(c: "Container", reports: list["SiteReport"], site: str | None) -> None:
    """Record this run in the node's verifications table, which postex_verify_* read (as
    ``verify --hub`` does on a hub). Faults are named by site, seq and reason only. A store
    that cannot take the row does not change the verdict: only a note says so."""
    from postex.bootstrap import replication
    from postex.network.app.hub import VerificationRecord

    faults = [f for r in reports for f in r.faults]
    detail = "; ".join(f"{f.site} seq {f.seq}: {f.reason}" for f in faults)
    if site:
        detail = f"site {site} only" + (f"; {detail}" if detail else "")
    rep = replication(c)
    record = VerificationRecord(rep.now(), not faults, sum(r.events_checked for r in reports),
                                detail[:2000])  # fmt: skip
    try:
        rep.state.record_verification(record)
    except Exception as exc:  # a damaged or read-only store: the verdict stands
        err.print(f"note: this run was not recorded ({exc.__class__.__name__})")


def _against_hub(
    c: "Container", reports: list["SiteReport"], wanted: bool | None, nats: str | None
) -> dict[str, Any] | None:
    """Compare the node's own site with the newest checkpoint the hub witnessed; the
    fault, if any, joins that site's report. None when not asked for and not configured."""
    from postex.kernel.errors import ConfigurationError
    from postex.network.app.integrity import hub_fault, newest_witnessed

    s = c.settings
    url = nats or s.nats_url
    automatic = wanted is None and s.role == "site" and bool(url)
    if not (wanted or automatic):
        return None
    if not url:
        raise ConfigurationError("--against-hub needs the hub's NATS URL: give --nats URL")
    own = next((r for r in reports if r.site == s.site), None)
    if own is None:
        return {"site": s.site, "compared": False, "note": f"no log of {s.site} here"}
    from postex.bootstrap import replication

    try:
        timeout = 10.0 if wanted else 3.0
        source = replication(c).nats_source(url, timeout, attempts=int(timeout // 2))
    except Exception as exc:  # NATS down or no hub: only an explicit request fails on it
        if wanted and isinstance(exc, ConfigurationError):  # NATS refused our credentials
            raise
        if wanted:
            raise ConfigurationError(
                f"the hub at {url} is not reachable ({exc.__class__.__name__}): is NATS up "
                "and `postex hub consume` running?"
            ) from None
        return {"site": s.site, "compared": False, "note": f"not reachable at {url}; not compared"}
    try:
        witnessed = newest_witnessed(
            s.site, source.checkpoints(s.site), source.witnesses(s.site), c.trusted_keys()
        )
    except ConfigurationError as exc:
        if wanted:
            raise
        return {"site": s.site, "compared": False, "note": exc.detail}
    finally:
        source.close()
    fault = hub_fault(c.store, s.site, witnessed)
    if fault is not None:
        own.faults.append(fault)
    seq = witnessed.seq if witnessed else None
    note = (
        f"the log agrees with the checkpoint the hub witnessed at seq {seq}"
        if witnessed is not None and fault is None
        else "the hub witnessed no checkpoint of this site yet"
        if witnessed is None
        else None
    )
    return {"site": s.site, "compared": True, "witnessed_seq": seq, "ok": fault is None,
            "note": note}  # fmt: skip


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
