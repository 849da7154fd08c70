"""Replication commands: `postex replicate` (a site), `postex hub …`, `postex replication …`."""

import base64
import dataclasses
from typing import TYPE_CHECKING, Annotated

import typer

from postex.cli.common import (
    EXIT_INTEGRITY,
    DbOpt,
    Group,
    HomeOpt,
    JsonOpt,
    MetricsPortOpt,
    SiteOpt,
    emit_json,
    err,
    handle_errors,
    out,
    progress_bar,
    start_logs,
    start_metrics,
)
from postex.config import load_settings
from postex.kernel.errors import ValidationError
from postex.network.cli import box

if TYPE_CHECKING:
    from postex.bootstrap import Container

NatsOpt = Annotated[
    str | None, typer.Option("--nats", help="NATS URL (default: the configured nats_url).")
]
PrefixOpt = Annotated[
    str | None, typer.Option("--prefix", help="Subject prefix (default: postex).")
]

hub_app = typer.Typer(cls=Group, help="The hub: consume every site's log, verify and witness it.")
rep_app = typer.Typer(
    cls=Group, help="Replication status and key exchange between sites and the hub."
)
network_app = typer.Typer(cls=Group, help="The node's place in the network: role and serial slot.")


def node(db: str | None, home: str | None, site: str | None, role: str,
         nats: str | None = None, prefix: str | None = None) -> "Container":  # fmt: skip
    from postex.bootstrap import build
    from postex.http.metrics_server import own_metrics

    own_metrics()  # before anything loads prometheus-client (--metrics-port)

    settings = load_settings(
        db_url=db, home=home, site=site, role=role, nats_url=nats, nats_prefix=prefix
    )
    if not settings.nats_url and role != "single":
        raise ValidationError.single("nats", "required", "", "set --nats or POSTEX_NATS_URL")
    return build(settings, create=True)


def register(app: typer.Typer) -> None:
    app.command()(replicate)
    app.command()(follow)
    app.add_typer(hub_app, name="hub")
    app.add_typer(rep_app, name="replication")
    app.add_typer(network_app, name="network")
    box.register(network_app)


@handle_errors
def replicate(
    db: DbOpt = None,
    home: HomeOpt = None,
    site: SiteOpt = None,
    nats: NatsOpt = None,
    prefix: PrefixOpt = None,
    follow: Annotated[
        bool,
        typer.Option("--follow/--no-follow", help="Also follow the other nodes' logs."),
    ] = True,
    metrics_port: MetricsPortOpt = None,
) -> None:
    """Publish this site's log to NATS JetStream until stopped (runs beside `postex serve
    --no-publish`), and follow every other trusted node's log (`--no-follow`: publish only).

    Publishing reads from the log from the last acknowledged seq, so it may be stopped,
    killed or cut off at any time and resumes where the hub's acknowledgements left off.
    With --metrics-port it serves Prometheus /metrics (replication lag in events and
    seconds, its process; docs/monitoring.md).

    Example: postex replicate --site GBLALA --nats nats://127.0.0.1:4222 --metrics-port 9102
    """
    import asyncio

    from postex.bootstrap import replication
    from postex.network.cli.loops import run_together, run_until_signal

    c = node(db, home, site, "site", nats, prefix)
    start_logs(c.settings)
    pub = replication(c).publisher()
    fol = replication(c).follower(c.trusted_keys()) if follow else None
    stop_metrics = start_metrics(c.settings, c, metrics_port)
    out.print(f"publishing {c.settings.site} to {c.settings.nats_url} (Ctrl+C to stop)")

    async def both(stop: asyncio.Event) -> None:
        await run_together(pub.run(stop), *([fol.run(stop)] if fol else []))

    try:
        run_until_signal(both)
    finally:
        stop_metrics()
        c.close()


@handle_errors
def follow(
    db: DbOpt = None,
    home: HomeOpt = None,
    site: SiteOpt = None,
    nats: NatsOpt = None,
    prefix: PrefixOpt = None,
) -> None:
    """Follow every other node's log until stopped: verify each message as the hub does,
    store the verified copy and apply it (pre-advice, cancellations, holds, data keys).

    Only nodes whose key this node trusts are followed (`postex replication trust --name
    GBLGWA --key …`). `postex serve` on a site already follows in the background; run this
    beside `postex serve --no-publish` and `postex replicate --no-follow` instead.

    Example: postex follow --site GBLGWA --nats nats://127.0.0.1:4222
    """
    from postex.bootstrap import replication
    from postex.network.cli.loops import run_until_signal

    c = node(db, home, site, "site", nats, prefix)
    start_logs(c.settings)
    follower = replication(c).follower(c.trusted_keys())
    out.print(f"{c.settings.site} following the network on {c.settings.nats_url} (Ctrl+C to stop)")
    run_until_signal(follower.run)
    c.close()


@hub_app.command("consume")
@handle_errors
def consume(
    db: DbOpt = None,
    home: HomeOpt = None,
    nats: NatsOpt = None,
    prefix: PrefixOpt = None,
    replay: Annotated[
        str | None,
        typer.Option("--replay", help="Comma-separated sites to ask for a full re-publication."),
    ] = None,
    metrics_port: MetricsPortOpt = None,
) -> None:
    """Consume every site's log: check links and hashes, store, countersign, raise alarms.

    With --metrics-port it serves Prometheus /metrics: every site's replication lag, open
    alarms, the last verification, events stored (docs/monitoring.md).

    Example: postex hub consume --db postgresql://postex@db/hub --nats nats://127.0.0.1:4222
    """
    from postex.bootstrap import replication
    from postex.network.cli.loops import run_until_signal

    c = node(db, home, None, "hub", nats, prefix)  # the hub's site: its database's (HUB)
    start_logs(c.settings)
    consumer = replication(c).consumer(c.trusted_keys())
    sites = [s.strip() for s in replay.split(",") if s.strip()] if replay else None
    stop_metrics = start_metrics(c.settings, c, metrics_port)
    out.print(f"hub consuming from {c.settings.nats_url} into {c.settings.db_url}")
    try:
        run_until_signal(lambda stop: consumer.run(stop, sites))
    finally:
        stop_metrics()
        c.close()


def verify_hub(c: "Container", as_json: bool) -> None:
    """``postex verify --hub``: every copy, every countersignature, every open alarm."""
    from postex.bootstrap import replication
    from postex.network.app.integrity import behind
    from postex.network.app.status import verify_copies

    rep = replication(c)
    total = sum(c.store.head(s)[0] for s in c.store.sites())
    with progress_bar("verifying hub copies", total) as update:
        result = verify_copies(c.store, rep.state, c.trusted_keys(), rep.now(), update,
                               c.authority, c.settings.site)  # fmt: skip
    if as_json:
        emit_json(
            {
                "ok": result.ok,
                "events_checked": result.events_checked,
                "sites": [
                    {"site": r.site, "head_seq": r.head_seq, "ok": r.ok,
                     "behind_to": r.behind_to or None,
                     "first_bad_seq": r.first_fault.seq if r.first_fault else None,
                     "reason": r.first_fault.reason if r.first_fault else None}
                    for r in result.reports
                ],
                "witness_faults": [
                    {"site": f.site, "seq": f.seq, "reason": f.reason}
                    for f in result.witness_faults
                ],
                "alarms": [
                    {"site": a.site, "seq": a.seq, "kind": a.kind, "detail": a.detail,
                     "blocking": a in result.blocking}
                    for a in result.alarms
                ],
            }
        )  # fmt: skip
    for r in result.reports:
        f = r.first_fault
        if f is None:
            err.print(f"[green]ok[/green] {r.site}: {r.events_checked} events{behind(r)}")
        else:
            err.print(f"[red]BAD[/red] site {f.site} seq {f.seq}: {f.reason}")
    for f in result.witness_faults:
        err.print(f"[red]BAD[/red] witness {f.site} seq {f.seq}: {f.reason}")
    for a in result.alarms:
        if a in result.blocking:
            err.print(f"[red]ALARM[/red] {a.kind} site {a.site} seq {a.seq}: {a.detail}")
        else:  # refused messages, nothing stored: a signal, not a fault in the copies
            err.print(f"[yellow]NOTICE[/yellow] alarm {a.id} {a.kind}: {a.detail}")
    if not result.ok:
        raise typer.Exit(EXIT_INTEGRITY)


@rep_app.command("status")
@handle_errors
def status(db: DbOpt = None, home: HomeOpt = None, site: SiteOpt = None) -> None:
    """Print heads, checkpoints, replication lag per site, the last verification, alarms,
    and the logs whose projection waits on a version they saw ("waiting").

    Example: postex replication status --site GBLALA
    """
    from postex.bootstrap import build, replication
    from postex.network.app.status import integrity_overview

    c = build(load_settings(db_url=db, home=home, site=site))
    rep = replication(c)
    view = integrity_overview(
        c.store, rep.state, c.settings.role, c.settings.site, rep.now(), rep.waiting()
    )
    c.close()
    emit_json(view)


@rep_app.command("public-key")
@handle_errors
def public_key(db: DbOpt = None, home: HomeOpt = None, site: SiteOpt = None) -> None:
    """Print this node's public signing key (base64), for the other side's `trust`.

    Example: postex replication public-key --site GBLALA > GBLALA.pub
    """
    from postex.bootstrap import build

    c = build(load_settings(db_url=db, home=home, site=site))
    out.print(base64.b64encode(c.signer.public).decode())
    c.close()


@rep_app.command("trust")
@handle_errors
def trust(
    name: Annotated[str, typer.Option("--name", help="Who the key belongs to: a site or HUB.")],
    key: Annotated[str, typer.Option("--key", help="The base64 key from `public-key`.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Trust another node's signing key: a site's (on the hub) or the hub's (on a site).

    Example: postex replication trust --name GBLALA --key "$(cat GBLALA.pub)"
    """
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32 or not name.isalnum():
        raise ValidationError.single("key", "ed25519_public", key, "a base64 32-byte public key")
    settings = load_settings(home=home)
    from postex.kernel.private import private_dir

    private_dir(settings.keys_dir)
    (settings.keys_dir / f"{name}.pub").write_text(key.strip() + "\n")
    if as_json:
        emit_json({"name": name, "file": str(settings.keys_dir / f"{name}.pub")})
    else:
        out.print(f"trusting {name}'s key ({settings.keys_dir / (name + '.pub')})")


@rep_app.command("clear-alarm")
@handle_errors
def clear_alarm_cmd(
    alarm_id: Annotated[int, typer.Option("--id", help="The alarm's id (see `status`).")],
    reason: Annotated[str, typer.Option("--reason", help="What was found and done.")],
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Close an integrity alarm after investigation (recorded in the audit trail).

    Example: postex replication clear-alarm --id 3 --reason "INC-2231: site restored from hub"
    """
    from postex.bootstrap import build, replication
    from postex.network.app.status import clear_alarm

    c = build(load_settings(db_url=db, home=home))
    rep = replication(c)
    try:
        alarm = clear_alarm(
            c.store, rep.state, c.settings.site, alarm_id, reason,
            {"kind": "system", "id": "cli"}, rep.now(),
        )  # fmt: skip
    finally:
        c.close()
    out.print(f"cleared alarm {alarm_id}: {alarm.kind} at {alarm.site} seq {alarm.seq}")


@network_app.command("check")
@handle_errors
def network_check(
    db: DbOpt = None, home: HomeOpt = None, site: SiteOpt = None, as_json: JsonOpt = False
) -> None:
    """Check this database against the network: its recorded role, and whether the ids it
    holds fit the site's serial slot (run before turning a single node into a site).

    Exit 2 naming the service, slot and offending range if they do not.

    Example: postex network check --site GBLGWA
    """
    from postex.bootstrap import build, network_fit
    from postex.network.app.node_role import slot_error

    # --site names the site to check for (it may differ from the one recorded: a single
    # node checked before it becomes another site); the node itself is the database's.
    c = build(load_settings(db_url=db, home=home))
    try:
        s = dataclasses.replace(c.settings, site=site or c.settings.site)
        recorded, slot, found = network_fit(c, s.site)
    finally:
        c.close()
    role = recorded.role if recorded else None
    if as_json:
        emit_json(
            {
                "site": s.site, "recorded_role": role, "configured_role": s.role,
                "serial_slot": slot.slot, "serial_slots": slot.slots, "ok": not found,
                "outside_slot": [
                    {"services": list(o.services), "prefix": o.prefix, "part": list(o.part),
                     "count": o.count, "lowest": o.lowest, "highest": o.highest}
                    for o in found
                ],
            }
        )  # fmt: skip
    if found:
        raise slot_error(s.site, slot, found)
    if not as_json:
        out.print(
            f"ok: role {role or 'not recorded yet'} (configured {s.role}); every id held "
            f"fits site {s.site}'s serial slot {slot.slot} of {slot.slots}"
        )
