"""Customer accounts: create, list, erase."""

from typing import Annotated

import typer

from postex.accounts.cli import customer_users
from postex.accounts.cli import holder_keys as customer_keys
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

ERASE_REMAINS = (
    "backups taken before now and the hub's replicated copy still hold this customer's data "
    "key wrapped under the current KEK, so any of them plus the KEK still opens its data; "
    "an account opened before this version also keeps its name in clear in the log's "
    "customer.created.v1 and credential.issued.v1 bodies, which cannot be rewritten"
)
ERASE_NEXT_STEPS = [
    "run `postex keys rotate` (new KEK; the old one is retired) and destroy every escrowed "
    "copy of the old KEK",
    "let backups taken before the erasure age out of retention (or delete them)",
]

app = typer.Typer(cls=Group, help="Business customer accounts.", no_args_is_help=True)
app.add_typer(customer_keys.app, name="keys")
app.add_typer(customer_users.app, name="users")


@app.command("create")
@handle_errors
def create(
    name: Annotated[str, typer.Option("--name", help="The customer's business name.")],
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open a customer account with its own data key; print its first API key once.

    Example: postex customers create --name "Acme Exports" --json
    """
    from postex.accounts.app.customers import create_customer

    c = container(db, home)
    created = create_customer(c.ctx, name, actor="cli")
    result = {"id": created.record.id, "name": created.record.name, "api_key": created.api_key}
    c.close()
    if as_json:
        emit_json(result)
    else:
        for k, v in result.items():
            out.print(f"{k}: {v}")


@app.command("list")
@handle_errors
def list_(db: DbOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List customer accounts.

    Example: postex customers list --json
    """
    from postex.accounts.app.customers import list_customers

    c = container(db, home)
    rows = list_customers(c.ctx)
    c.close()
    if as_json:
        emit_json({"customers": [vars(r) for r in rows]})
        return
    for r in rows:
        state = f"erased {r.erased_at}" if r.erased_at else "active"
        out.print(f"{r.id}  {r.name}  created {r.created_at}  {state}")


@app.command("erase")
@handle_errors
def erase(
    customer_id: Annotated[str, typer.Argument(help="The customer id, e.g. cus_3f9a…")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")] = "",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Destroy a customer's data key: their personal data becomes unreadable for good.

    Backups taken before the erasure (and the hub's copy) still hold the data key wrapped
    under the current KEK: the erasure reaches them once `postex keys rotate` has run, every
    copy of the old KEK is destroyed and older backups have aged out.

    Example: postex customers erase cus_3f9a0c… --reason "GDPR request 2026-114" --yes
    """
    from postex.accounts.app.customers import erase_customer

    if not yes and as_json:
        from postex.kernel.errors import ValidationError

        raise ValidationError.single("yes", "required", False, "--json needs --yes (no prompt)")
    if not yes:
        typer.confirm(
            f"Erase all personal data of {customer_id}? This cannot be undone", abort=True
        )
    c = container(db, home)
    erase_customer(c.ctx, customer_id, actor="cli", reason=reason)
    c.close()
    if as_json:
        emit_json({"id": customer_id, "erased": True, "remaining_copies": ERASE_REMAINS,
                   "next_steps": ERASE_NEXT_STEPS})  # fmt: skip
        return
    out.print(f"erased {customer_id}: its data key is destroyed; its items stay trackable")
    out.print(f"[yellow]not yet everywhere:[/yellow] {ERASE_REMAINS}", soft_wrap=True)
    for step in ERASE_NEXT_STEPS:
        out.print(f"  next: {step}", soft_wrap=True, markup=False)
