"""Export holds from the command line: place, list, confirm, release, and the held queue.

Commands that change a hold act as the staff user whose token (from ``postex users create``)
is in ``$POSTEX_TOKEN``, ``--token-file PATH`` or ``--token-stdin`` (never on the command
line, where ``ps`` shows it), so the two-person rule sees two real users. Reading without a
token acts as a local auditor (the CLI runs on the node, next to its database).
"""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from postex.cli.common import (
    ArgvTokenOpt,
    DbOpt,
    Group,
    HomeOpt,
    JsonOpt,
    TokenFileOpt,
    TokenStdinOpt,
    container,
    emit_json,
    handle_errors,
    out,
    staff_token,
)

if TYPE_CHECKING:
    from postex.accounts.app.auth import Principal
    from postex.bootstrap import Container
    from postex.incidents.app.policy import HoldRecord, ReleaseOutcome

app = typer.Typer(
    cls=Group, help="Export holds (incidents): place, confirm, release.", no_args_is_help=True
)
SiteScope = Annotated[
    list[str] | None,
    typer.Option(
        "--site",
        show_default=False,
        help="A site (IMPC) in scope, e.g. GBLALA; repeat for several (none: every site).",
    ),
]
DestinationScope = Annotated[
    list[str] | None,
    typer.Option(
        "--destination",
        show_default=False,
        help="A destination country (ISO alpha-2), e.g. US; repeat (none: every country).",
    ),
]
ServiceScope = Annotated[
    list[str] | None,
    typer.Option(
        "--service",
        show_default=False,
        help="A service code, e.g. parcel; repeat for several (none: every service).",
    ),
]
ReleaseItems = Annotated[
    list[str] | None,
    typer.Option(
        "--item",
        show_default=False,
        help="Release only this held item (S10 id); repeat for several. The hold stays.",
    ),
]
ReleaseServices = Annotated[
    list[str] | None,
    typer.Option(
        "--service",
        show_default=False,
        help="Release only the held items of this service; repeat. The hold stays.",
    ),
]
EmergencyOpt = Annotated[
    bool,
    typer.Option("--emergency", help="Skip the two-person rule (audited as a bypass)."),
]


def _say(text: str) -> None:
    """One unwrapped, unstyled line (scripts grep these)."""
    out.print(text, soft_wrap=True, markup=False, highlight=False)


def _token(
    token_file: str | None, token_stdin: bool, argv: str | None, *, needed: bool
) -> str | None:
    from postex.kernel.errors import UnauthenticatedError

    token = staff_token(token_file, token_stdin, argv)
    if token is None and needed:
        raise UnauthenticatedError(
            "this command acts as a staff user: put your token (pxk_…) in $POSTEX_TOKEN, "
            "a file given with --token-file PATH, or stdin with --token-stdin"
        )
    return token


def _principal(c: "Container", token: str | None) -> "Principal":
    from postex.accounts.app.auth import CredentialRepository, Principal, Role, authenticate

    if token is None:
        return Principal("cli", "cli", Role.AUDITOR, "local", name="local CLI")
    with c.ctx.store.read() as uow:
        return authenticate(uow.repo(CredentialRepository), token)


def _hold_dict(h: "HoldRecord", c: "Container") -> dict[str, Any]:
    return {
        "id": h.id, "status": str(h.status(c.ctx.clock.now())), "scope": h.scope.to_dict(),
        "reason": h.reason, "advisory": h.advisory, "advisory_id": h.advisory_id,
        "starts_at": h.starts_at, "placed_at": h.placed_at, "placed_by": h.placed_by.get("id"),
        "confirmed_by": h.confirmed_by, "released_at": h.released_at,
        "release_pending": h.release_request is not None, "held_items": h.held,
        "released_items": h.released,
    }  # fmt: skip


def _print_hold(d: dict[str, Any]) -> None:
    s = d["scope"]
    where = ", ".join(s["sites"]) or "network"
    extra = [f"to {','.join(s['destinations'])}"] if s["destinations"] else []
    extra += [f"services {','.join(s['services'])}"] if s["services"] else []
    extra += ["goods only"] if s["goods_only"] else []
    _say(
        f"{d['id']}  {d['status']:<9} {where} {' '.join(extra)}  held {d['held_items']}"
        f" released {d['released_items']}" + ("  [release pending]" if d["release_pending"] else "")
    )


def _print_outcome(o: "ReleaseOutcome", c: "Container", as_json: bool) -> None:
    hold = _hold_dict(o.hold, c)
    if as_json:
        emit_json({"hold": hold, "released": o.released, "pending_confirmation": o.pending,
                   "request_id": o.request_id})  # fmt: skip
        return
    _print_hold(hold)
    if o.pending:
        _say(
            f"release {o.request_id} waits for a second ops user: postex holds confirm {o.hold.id}"
        )
    else:
        _say(f"released {len(o.released)} items")


@app.command("place")
@handle_errors
def place(
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")],
    token_file: TokenFileOpt = None,
    token_stdin: TokenStdinOpt = False,
    argv_token: ArgvTokenOpt = None,
    advisory: Annotated[
        str | None, typer.Option("--advisory", help="What customers are told.")
    ] = None,
    site: SiteScope = None,
    destination: DestinationScope = None,
    service: ServiceScope = None,
    goods_only: Annotated[
        bool, typer.Option("--goods-only", help="Only items needing customs data.")
    ] = False,
    internal: Annotated[
        bool, typer.Option("--internal", help="Not customer-facing (no advisory).")
    ] = False,
    starts_at: Annotated[
        str | None, typer.Option("--starts-at", help="RFC 3339 time; default now.")
    ] = None,
    emergency: EmergencyOpt = False,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hold exports in a scope (no --site: the whole network, which a second ops user confirms).

    Example: postex holds place --goods-only --reason "cyber incident" --advisory "Hold export items with goods" --token-file ~/.postex-token
    """  # noqa: E501
    from postex.incidents.app.holds import place_hold

    c = container(db, home)
    payload: dict[str, Any] = {
        "scope": {"sites": site or [], "destinations": destination or [],
                  "services": service or [], "goods_only": goods_only},
        "reason": reason, "advisory": advisory, "customer_facing": not internal,
        "emergency": emergency,
    }  # fmt: skip
    if starts_at:
        payload["starts_at"] = starts_at
    hold = place_hold(
        c.ctx, _principal(c, _token(token_file, token_stdin, argv_token, needed=True)), payload
    )
    d = _hold_dict(hold, c)
    c.close()
    if as_json:
        emit_json(d)
        return
    _print_hold(d)
    if d["status"] == "pending":
        _say(f"pending: a second ops user runs `postex holds confirm {hold.id}` within 15 min")


@app.command("list")
@handle_errors
def list_(
    status: Annotated[
        str | None, typer.Option("--status", help="pending|scheduled|active|released|expired")
    ] = None,
    token_file: TokenFileOpt = None,
    token_stdin: TokenStdinOpt = False,
    argv_token: ArgvTokenOpt = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List holds, newest first.

    Example: postex holds list --status active
    """
    from postex.incidents.app.holds import list_holds

    c = container(db, home)
    rows = [
        _hold_dict(h, c)
        for h in list_holds(
            c.ctx, _principal(c, _token(token_file, token_stdin, argv_token, needed=False)), status
        )
    ]
    c.close()
    if as_json:
        emit_json({"holds": rows})
        return
    for d in rows:
        _print_hold(d)


@app.command("confirm")
@handle_errors
def confirm(
    hold_id: Annotated[str, typer.Argument(help="The hold id, e.g. hold_3f9a…")],
    token_file: TokenFileOpt = None,
    token_stdin: TokenStdinOpt = False,
    argv_token: ArgvTokenOpt = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Confirm a pending network-wide hold, or its pending release (a different ops user).

    Example: POSTEX_TOKEN=$(cat ~/.postex-token) postex holds confirm hold_3f9a…
    """
    from postex.incidents.app.holds import confirm_hold

    c = container(db, home)
    outcome = confirm_hold(
        c.ctx, _principal(c, _token(token_file, token_stdin, argv_token, needed=True)), hold_id
    )
    if outcome.request_id is None and not as_json:  # the placement was confirmed, no release
        hold = _hold_dict(outcome.hold, c)
        _print_hold(hold)
        _say(f"confirmed: the hold is {hold['status']}")
    else:
        _print_outcome(outcome, c, as_json)
    c.close()


@app.command("release")
@handle_errors
def release(
    hold_id: Annotated[str, typer.Argument(help="The hold id, e.g. hold_3f9a…")],
    token_file: TokenFileOpt = None,
    token_stdin: TokenStdinOpt = False,
    argv_token: ArgvTokenOpt = None,
    item: ReleaseItems = None,
    service: ReleaseServices = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")] = "",
    emergency: EmergencyOpt = False,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Release a hold: every held item (the hold ends), or only --item ids or --service codes.

    Example: postex holds release hold_3f9a… --service standard_letter --reason "letters resume" --token-stdin < ~/.postex-token
    """  # noqa: E501
    from postex.incidents.app.holds import release_hold

    c = container(db, home)
    payload = {"items": item or [], "services": service or [], "reason": reason,
               "emergency": emergency}  # fmt: skip
    outcome = release_hold(
        c.ctx,
        _principal(c, _token(token_file, token_stdin, argv_token, needed=True)),
        hold_id,
        payload,
    )
    _print_outcome(outcome, c, as_json)
    c.close()


@app.command("held")
@handle_errors
def held(
    site: Annotated[
        str | None, typer.Option("--site", help="One site's queue, e.g. GBLALA.")
    ] = None,
    hold_id: Annotated[str | None, typer.Option("--hold", help="Only this hold's items.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 1000,
    token_file: TokenFileOpt = None,
    token_stdin: TokenStdinOpt = False,
    argv_token: ArgvTokenOpt = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The held-items queue (per site), with the open receptacles they sit in.

    Example: postex holds held --site GBLALA
    """
    from postex.incidents.app.holds import held_items

    c = container(db, home)
    rows = held_items(
        c.ctx,
        _principal(c, _token(token_file, token_stdin, argv_token, needed=False)),
        site,
        hold_id,
        None,
        limit,
    )
    c.close()
    if as_json:
        emit_json({"items": [vars(r) | {"receptacles": list(r.receptacles)} for r in rows]})
        return
    if not rows:
        _say("no held items")
    for r in rows:
        flag = f"  in open receptacle {', '.join(r.receptacles)}" if r.receptacles else ""
        _say(f"{r.item_id}  {r.site}  {r.service:<15} {r.destination}  from {r.held_from}"
                  f"  {r.hold_id}{flag}")  # fmt: skip
