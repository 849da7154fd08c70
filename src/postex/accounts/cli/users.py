"""Staff users: create with a role (and a site for clerks and supervisors), list, disable and
enable them, and see or end their console sessions."""

import sys
from typing import Annotated

import typer

from postex.accounts.cli.holder_keys import keys_app
from postex.cli.common import (
    DbOpt,
    Group,
    HomeOpt,
    JsonOpt,
    container,
    emit_json,
    handle_errors,
    out,
)

app = typer.Typer(cls=Group, help="Staff users and their roles.", no_args_is_help=True)
app.add_typer(keys_app("staff", "users", "staff user", "usr_0c7d2e9f4a1b8c3d6e5f"), name="keys")


@app.command("create")
@handle_errors
def create(
    username: Annotated[str, typer.Option("--username", help="Login name, e.g. j.smith.")],
    role: Annotated[str, typer.Option("--role", help="clerk | supervisor | ops | auditor | admin")],
    site: Annotated[
        str | None,
        typer.Option("--site", help="The user's site (IMPC), required for clerks/supervisors."),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read a console password from stdin.")
    ] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a staff user; print its API token once (only its hash is stored).

    Example: postex users create --username j.smith --role clerk --site GBLALA --json
    """
    from postex.accounts.app.staff import create_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    c = container(db, home)
    try:
        created = create_user(c.ctx, username, role, site, password)
    finally:
        c.close()
    result = {"id": created.record.id, "token": created.token}
    if as_json:
        emit_json(result)
        return
    out.print(f"id: {created.record.id}")
    out.print(f"role: {created.record.role}  site: {created.record.site or 'all sites'}")
    out.print(f"token: {created.token}  (shown once)")


UserArg = Annotated[str, typer.Argument(help="The user's login name, e.g. j.smith.")]
ReasonOpt = Annotated[
    str, typer.Option("--reason", help="Why, for the audit trail (required), e.g. 'left'.")
]


@app.command("list")
@handle_errors
def list_users(db: DbOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List staff users: role, site, enabled or disabled, second factor, last sign-in and
    live console sessions.

    Example: postex users list --json
    """
    from postex.accounts.app.staff_admin import CLI_ADMIN
    from postex.accounts.app.staff_admin import list_users as listed

    c = container(db, home)
    try:
        users = listed(c.console, CLI_ADMIN)
    finally:
        c.close()
    if as_json:
        emit_json({"users": [u.as_dict() for u in users]})
        return
    if not users:
        out.print("no users yet: create one with `postex users create`")
    for u in users:
        state = "disabled" if u.disabled else "enabled"
        out.print(
            f"{u.username:<20} {u.role:<10} {u.site or 'all sites':<9} {state:<8} "
            f"totp {'yes' if u.totp else 'no ':<3}  last sign-in {u.last_sign_in or 'never':<20} "
            f"sessions {u.sessions}"
        )


@app.command("disable")
@handle_errors
def disable(
    username: UserArg,
    reason: ReasonOpt,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Disable a user: their console sessions end at once and their API tokens stop working
    until they are enabled again.

    Example: postex users disable j.smith --reason "left the company"
    """
    from postex.accounts.app.staff_admin import CLI_ADMIN, disable_user

    c = container(db, home)
    try:
        ended = disable_user(c.console, CLI_ADMIN, username, reason)
    finally:
        c.close()
    if as_json:
        emit_json({"username": username.strip().lower(), "disabled": True, "sessions_ended": ended})
        return
    out.print(f"{username.strip().lower()} disabled; {ended} session(s) ended")


@app.command("enable")
@handle_errors
def enable(
    username: UserArg,
    reason: ReasonOpt,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enable a disabled user again: their API tokens work again; they sign in afresh.

    Example: postex users enable j.smith --reason "back from leave"
    """
    from postex.accounts.app.staff_admin import CLI_ADMIN, enable_user

    c = container(db, home)
    try:
        enable_user(c.console, CLI_ADMIN, username, reason)
    finally:
        c.close()
    if as_json:
        emit_json({"username": username.strip().lower(), "disabled": False})
        return
    out.print(f"{username.strip().lower()} enabled")


@app.command("password")
@handle_errors
def password(
    username: UserArg,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password (12+) from stdin.")
    ] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set or reset a user's console password (kept as an argon2id hash on this node only,
    never in the log: after a restore onto a new machine, set each user's again).

    Example: printf '%s\n' "$NEW_PASSWORD" | postex users password j.smith --password-stdin
    """
    from postex.accounts.app.staff import set_password
    from postex.kernel.errors import ValidationError

    if not password_stdin:
        raise ValidationError.single(
            "password", "required", None, "give the password on stdin with --password-stdin"
        )
    secret = sys.stdin.readline().rstrip("\n")
    c = container(db, home)
    try:
        user = set_password(c.ctx, username, secret)
    finally:
        c.close()
    if as_json:
        emit_json({"username": user.username, "id": user.id, "password_set": True})
        return
    out.print(f"{user.username}: console password set")


sessions_app = typer.Typer(
    cls=Group,
    help="A user's console sessions: list them, end them.\n\n"
    "Example: postex users sessions list j.smith",
    no_args_is_help=True,
)
app.add_typer(sessions_app, name="sessions")


@sessions_app.command("list")
@handle_errors
def list_sessions(
    username: UserArg, db: DbOpt = None, home: HomeOpt = None, as_json: JsonOpt = False
) -> None:
    """List a user's live console sessions, newest first (the session column names one for
    `postex users sessions end --session`).

    Example: postex users sessions list j.smith --json
    """
    from postex.accounts.app.staff_admin import CLI_ADMIN, user_sessions

    c = container(db, home)
    try:
        found = user_sessions(c.console, CLI_ADMIN, username)
    finally:
        c.close()
    if as_json:
        emit_json({"username": username.strip().lower(), "sessions": [s.as_dict() for s in found]})
        return
    if not found:
        out.print("no live sessions")
    for s in found:
        out.print(
            f"{s.handle}  {s.stage:<9}  signed in {s.signed_in_at}  last seen {s.last_seen_at}"
            f"  from {s.ip or '?'}"
        )


@sessions_app.command("end")
@handle_errors
def end_sessions(
    username: UserArg,
    reason: ReasonOpt,
    session: Annotated[
        str,
        typer.Option("--session", help="Only this session (from `sessions list`); default: all."),
    ] = "",
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End a user's console sessions (all, or one with --session): they must sign in again.

    Example: postex users sessions end j.smith --reason "lost handheld" --session 3fa94c1d20be
    """
    from postex.accounts.app.staff_admin import CLI_ADMIN
    from postex.accounts.app.staff_admin import end_sessions as end

    c = container(db, home)
    try:
        ended = end(c.console, CLI_ADMIN, username, reason, session)
    finally:
        c.close()
    if as_json:
        emit_json({"username": username.strip().lower(), "sessions_ended": ended})
        return
    out.print(f"{ended} session(s) of {username.strip().lower()} ended")
