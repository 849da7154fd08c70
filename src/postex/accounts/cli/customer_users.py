"""Sender portal users of a customer account: create, list."""

import sys
from typing import Annotated

import typer

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

app = typer.Typer(cls=Group, help="Sender portal users of a customer account.",
                  no_args_is_help=True)  # fmt: skip
CustomerOpt = Annotated[str, typer.Option("--customer", help="The customer id, e.g. cus_3f9a….")]


@app.command("create")
@handle_errors
def create(
    customer: CustomerOpt,
    username: Annotated[str, typer.Option("--username", help="3–40 lower-case characters.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password (12+ characters) from stdin."),
    ] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a portal user of a customer account (the password is kept as an argon2id hash).

    Example: postex customers users create --customer cus_3f9a… --username anna --password-stdin
    """
    from postex.accounts.app.portal_users import create_customer_user
    from postex.kernel.errors import ValidationError

    if not password_stdin:
        raise ValidationError.single(
            "password", "required", None, "give the password on stdin with --password-stdin"
        )
    password = sys.stdin.readline().rstrip("\n")
    c = container(db, home)
    try:
        user = create_customer_user(c.ctx, customer, username, password)
    finally:
        c.close()
    result = {"id": user.id, "customer_id": user.customer_id, "username": user.username}
    if as_json:
        emit_json(result)
        return
    out.print(f"id: {user.id}  username: {user.username}  customer: {user.customer_id}")
    out.print("sign in at /portal/sign-in")


@app.command("list")
@handle_errors
def list_(
    customer: CustomerOpt, db: DbOpt = None, home: HomeOpt = None, as_json: JsonOpt = False
) -> None:
    """List a customer account's portal users (never their passwords).

    Example: postex customers users list --customer cus_3f9a… --json
    """
    from postex.accounts.app.portal_users import list_customer_users

    c = container(db, home)
    try:
        users = list_customer_users(c.ctx, customer)
    finally:
        c.close()
    rows = [{"id": u.id, "username": u.username, "created_at": u.created_at} for u in users]
    if as_json:
        emit_json({"customer_id": customer, "users": rows})
        return
    for r in rows:
        out.print(f"{r['id']}  {r['username']}  created {r['created_at']}")
