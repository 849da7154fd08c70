"""Partners (destination posts, airlines): create with their IMPC offices, list."""

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

app = typer.Typer(
    cls=Group, help="Partners that send tracking events (EMSEVT).", no_args_is_help=True
)
app.add_typer(keys_app("partner", "partners", "partner", "ptn_5b8e21c0d9a4f3e6b7a1"), name="keys")


@app.command("create")
@handle_errors
def create(
    name: Annotated[str, typer.Option("--name", help="The partner's name, e.g. USPS.")],
    impc: Annotated[
        list[str], typer.Option("--impc", help="An IMPC office it speaks for (repeatable).")
    ],
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a partner for its offices; print its API key once.

    Example: postex partners create --name USPS --impc USJFKA --impc USJFKC --json
    """
    from postex.accounts.app.partners import create_partner

    c = container(db, home)
    created = create_partner(c.ctx, name, impc)
    c.close()
    result = {
        "id": created.record.id,
        "name": created.record.name,
        "offices": list(created.record.offices),
        "api_key": created.api_key,
    }
    if as_json:
        emit_json(result)
        return
    for k, v in result.items():
        out.print(f"{k}: {v}")


@app.command("list")
@handle_errors
def list_(db: DbOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List partners and their offices.

    Example: postex partners list --json
    """
    from postex.accounts.app.partners import list_partners

    c = container(db, home)
    rows = list_partners(c.ctx)
    c.close()
    if as_json:
        emit_json({"partners": [{**vars(r), "offices": list(r.offices)} for r in rows]})
        return
    for r in rows:
        out.print(f"{r.id}  {r.name}  {' '.join(r.offices)}  created {r.created_at}")
