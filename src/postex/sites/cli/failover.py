"""Failover and failback of a lost site from the command line (operations leads).

``postex sites failover --from GBLALA --to GBLGWA --reason TEXT`` asks; a second, different
operations lead runs ``postex sites failover confirm ID`` within 15 minutes. The same for
``postex sites failback --site GBLALA --reason TEXT`` and ``postex sites failback confirm
ID``. Each acts as the staff user whose token is in ``$POSTEX_TOKEN``, ``--token-file PATH``
or ``--token-stdin`` (never on the command line); ``postex sites failovers`` lists them.
Events go to the log of the node the command runs on (the hub or any site).
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
    from postex.sites.app.failover import FailoverRecord

app = typer.Typer(
    cls=Group, help="Sites of the network: fail a lost site over, fail it back.",
    no_args_is_help=True,
)  # fmt: skip
failover_app = typer.Typer(cls=Group)  # help: the callback's docstring, with its example
failback_app = typer.Typer(cls=Group)
app.add_typer(failover_app, name="failover")
app.add_typer(failback_app, name="failback")

ReasonOpt = Annotated[
    str | None, typer.Option("--reason", help="Why (kept in the log and the audit trail).")
]
RequestArg = Annotated[str, typer.Argument(help="The request id, e.g. fov_3f9a…")]


def _say(text: str) -> None:
    out.print(text, soft_wrap=True, markup=False, highlight=False)


def _principal(
    c: "Container", token_file: str | None, token_stdin: bool, argv: str | None, needed: bool
) -> "Principal":
    from postex.accounts.app.auth import CredentialRepository, Principal, Role, authenticate
    from postex.kernel.errors import UnauthenticatedError

    token = staff_token(token_file, token_stdin, argv)
    if token is None:
        if needed:
            raise UnauthenticatedError(
                "this command acts as an operations lead: put your token (pxk_…) in "
                "$POSTEX_TOKEN, a file given with --token-file PATH, or stdin with --token-stdin"
            )
        return Principal("cli", "cli", Role.AUDITOR, "local", name="local CLI")
    with c.ctx.store.read() as uow:
        return authenticate(uow.repo(CredentialRepository), token)


def _as_dict(r: "FailoverRecord", c: "Container") -> dict[str, Any]:
    return {
        "id": r.id, "kind": r.kind, "status": str(r.status(c.ctx.clock.now())),
        "from_site": r.from_site, "to_site": r.to_site, "reason": r.reason,
        "requested_by": r.requested_by.get("id"), "requested_at": r.requested_at,
        "logged_at": r.origin_site,
        "confirmed_by": r.confirmed_by.get("id") if r.confirmed_by else None,
        "confirmed_at": r.confirmed_at, "ended_at": r.ended_at, "items_moved": r.item_count,
        "receptacles_abandoned": r.receptacle_count,
    }  # fmt: skip


def _print(d: dict[str, Any]) -> None:
    survivor = f" from {d['to_site']}" if d["to_site"] else ""
    what = (f"{d['from_site']} -> {d['to_site']}" if d["kind"] == "failover"
            else f"{d['from_site']} back{survivor}")  # fmt: skip
    moved = (f"  moved {d['items_moved']} items, abandoned {d['receptacles_abandoned']}"
             " receptacles" if d["kind"] == "failover" and d["confirmed_at"] else "")  # fmt: skip
    _say(f"{d['id']}  {d['kind']:<8} {d['status']:<7} {what}  {d['reason']}{moved}")


def _done(r: "FailoverRecord", c: "Container", as_json: bool, hint: str = "") -> None:
    d = _as_dict(r, c)
    c.close()
    if as_json:
        emit_json(d)
        return
    _print(d)
    if hint and d["status"] == "pending":
        _say(hint.format(id=d["id"]))


@failover_app.callback(invoke_without_command=True)
@handle_errors
def failover(
    ctx: typer.Context,
    from_site: Annotated[
        str | None, typer.Option("--from", help="The lost site (IMPC), e.g. GBLALA.")
    ] = None,
    to_site: Annotated[
        str | None, typer.Option("--to", help="The survivor (IMPC), e.g. GBLGWA.")
    ] = None,
    reason: ReasonOpt = None,
    token_file: TokenFileOpt = None,
    token_stdin: TokenStdinOpt = False,
    argv_token: ArgvTokenOpt = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask to fail a lost site over to a survivor; a second operations lead confirms.

    Example: postex sites failover --from GBLALA --to GBLGWA --reason "ransomware at Heathrow" --token-file ~/.postex-token
    """  # noqa: E501
    if ctx.invoked_subcommand is not None:
        return
    from postex.sites.app.failover import request_failover

    c = container(db, home)
    p = _principal(c, token_file, token_stdin, argv_token, needed=True)
    payload = {"from_site": from_site, "to_site": to_site, "reason": reason}
    r = request_failover(c.site_ops, p, payload)
    _done(r, c, as_json, "pending: a second operations lead runs"
          " `postex sites failover confirm {id}` within 15 minutes")  # fmt: skip


@failover_app.command("confirm")
@handle_errors
def failover_confirm(
    request_id: RequestArg,
    token_file: TokenFileOpt = None,
    token_stdin: TokenStdinOpt = False,
    argv_token: ArgvTokenOpt = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Confirm a pending failover (a second operations lead, within 15 minutes).

    The lost site's routes leave from the survivor; its waiting items move there.

    Example: POSTEX_TOKEN=$(cat ~/.postex-token) postex sites failover confirm fov_3f9a…
    """
    from postex.sites.app.failover import confirm
    from postex.sites.domain.failover import RequestKind

    c = container(db, home)
    p = _principal(c, token_file, token_stdin, argv_token, needed=True)
    _done(confirm(c.site_ops, p, request_id, RequestKind.FAILOVER), c, as_json)


@failback_app.callback(invoke_without_command=True)
@handle_errors
def failback(
    ctx: typer.Context,
    site: Annotated[
        str | None, typer.Option("--site", help="The site failed over (IMPC), e.g. GBLALA.")
    ] = None,
    reason: ReasonOpt = None,
    token_file: TokenFileOpt = None,
    token_stdin: TokenStdinOpt = False,
    argv_token: ArgvTokenOpt = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask to end a site's failover (its routes leave from it again; moved items stay).

    Example: postex sites failback --site GBLALA --reason "Heathrow restored and verified" --token-file ~/.postex-token
    """  # noqa: E501
    if ctx.invoked_subcommand is not None:
        return
    from postex.sites.app.failover import request_failback

    c = container(db, home)
    p = _principal(c, token_file, token_stdin, argv_token, needed=True)
    r = request_failback(c.site_ops, p, {"site": site, "reason": reason})
    _done(r, c, as_json, "pending: a second operations lead runs"
          " `postex sites failback confirm {id}` within 15 minutes")  # fmt: skip


@failback_app.command("confirm")
@handle_errors
def failback_confirm(
    request_id: RequestArg,
    token_file: TokenFileOpt = None,
    token_stdin: TokenStdinOpt = False,
    argv_token: ArgvTokenOpt = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Confirm a pending failback (a different operations lead, within 15 minutes).

    Example: POSTEX_TOKEN=$(cat ~/.postex-token) postex sites failback confirm fov_3f9a…
    """
    from postex.sites.app.failover import confirm
    from postex.sites.domain.failover import RequestKind

    c = container(db, home)
    p = _principal(c, token_file, token_stdin, argv_token, needed=True)
    _done(confirm(c.site_ops, p, request_id, RequestKind.FAILBACK), c, as_json)


@app.command("failovers")
@handle_errors
def failovers(
    token_file: TokenFileOpt = None,
    token_stdin: TokenStdinOpt = False,
    argv_token: ArgvTokenOpt = None,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Failover and failback requests, newest first, with their status
    (pending|expired|active|ended|done).

    Example: postex sites failovers --json
    """
    from postex.sites.app.failover import list_failovers

    c = container(db, home)
    p = _principal(c, token_file, token_stdin, argv_token, needed=False)
    rows = [_as_dict(r, c) for r in list_failovers(c.site_ops, p)]
    c.close()
    if as_json:
        emit_json({"failovers": rows})
        return
    if not rows:
        _say("no failover or failback requests")
    for d in rows:
        _print(d)
