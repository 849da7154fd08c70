"""Staff users: create with a role (and a site for clerks and supervisors)."""

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
