"""``postex customers keys``: list (prefix only), revoke and rotate a customer's API keys."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from postex.app.api_keys import list_keys, revoke_key, rotate_key
from postex.entrypoints.cli.common import (
    DbOpt,
    HomeOpt,
    JsonOpt,
    container,
    emit_json,
    handle_errors,
    out,
)

app = typer.Typer(help="A customer's API keys (only hashes are stored).", no_args_is_help=True)
CustomerArg = Annotated[str, typer.Argument(help="The customer id, e.g. cus_3f9a…")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")]


def _actor() -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"kind": "cli", "id": user, "role": "admin"}


@app.command("list")
@handle_errors
def list_(
    customer_id: CustomerArg, db: DbOpt = None, home: HomeOpt = None, as_json: JsonOpt = False
) -> None:
    """List a customer's keys by prefix, with creation and revocation times.

    Example: postex customers keys list cus_3f9a0c1b2d4e5f607182 --json
    """
    c = container(db, home)
    keys = list_keys(c.ctx, customer_id)
    c.close()
    rows = [
        {"key_id": k.key_id, "prefix": k.prefix, "created_at": k.created_at,
         "revoked_at": k.revoked_at, "active": k.active}
        for k in keys
    ]  # fmt: skip
    if as_json:
        emit_json({"customer_id": customer_id, "keys": rows})
        return
    for r in rows:
        state = "active" if r["active"] else f"revoked {r['revoked_at']}"
        out.print(f"{r['prefix']}_…  created {r['created_at']}  {state}")


@app.command("revoke")
@handle_errors
def revoke(
    customer_id: CustomerArg,
    key_id: Annotated[str, typer.Argument(help="The key id or its prefix pxk_<id>.")],
    reason: ReasonOpt = "",
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke one API key: from the next request on, it gets 401.

    Example: postex customers keys revoke cus_3f9a0c1b2d4e5f607182 pxk_9c0d1e2f3a4b --reason leaked
    """
    c = container(db, home)
    info = revoke_key(c.ctx, customer_id, key_id, _actor(), reason)
    c.close()
    if as_json:
        emit_json({"key_id": info.key_id, "prefix": info.prefix, "revoked_at": info.revoked_at})
    else:
        out.print(f"revoked {info.prefix} at {info.revoked_at}")


@app.command("rotate")
@handle_errors
def rotate(
    customer_id: CustomerArg,
    key_id: Annotated[
        str | None, typer.Option("--key", help="The key to replace (needed if several are active).")
    ] = None,
    reason: ReasonOpt = "",
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue a new API key and revoke the old one at once; print the new key once.

    Example: postex customers keys rotate cus_3f9a0c1b2d4e5f607182 --json
    """
    c = container(db, home)
    rotated = rotate_key(c.ctx, customer_id, _actor(), key_id, reason)
    c.close()
    result = {
        "id": rotated.customer_id,
        "api_key": rotated.api_key,
        "key_id": rotated.new_key_id,
        "revoked_key_id": rotated.revoked_key_id,
    }
    if as_json:
        emit_json(result)
    else:
        for k, v in result.items():
            out.print(f"{k}: {v}")
