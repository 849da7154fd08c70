"""``postex customers|partners|users keys``: list (prefix only), revoke and rotate API keys.

One set of commands per kind of key holder, made by :func:`keys_app`; only hashes of keys
are stored, so a listing shows prefixes and dates. (No ``from __future__ import
annotations`` here: the commands' annotations name a type made inside the factory.)
"""

import getpass
from typing import Annotated, Any

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

ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")]
KeyArg = Annotated[str, typer.Argument(help="The key id or its prefix pxk_<id>.")]
RotateOpt = Annotated[
    str | None, typer.Option("--key", help="The key to replace (needed if several are active).")
]


def _actor() -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"kind": "cli", "id": user, "role": "admin"}


def keys_app(kind: str, group: str, holder: str, example_id: str) -> typer.Typer:
    """``list``, ``revoke`` and ``rotate`` for the keys of one kind of holder.

    ``group`` is the CLI group (``customers``), ``holder`` how a holder is called in help
    (``customer``), ``example_id`` an id for the examples.
    """
    keys = typer.Typer(
        cls=Group, help=f"A {holder}'s API keys (only hashes are stored).", no_args_is_help=True
    )
    holder_arg = Annotated[str, typer.Argument(help=f"The {holder} id, e.g. {example_id}.")]
    prefix = f"postex {group} keys"

    @keys.command(
        "list",
        help=f"List a {holder}'s keys by prefix, with creation and revocation times.\n\n"
        f"Example: {prefix} list {example_id} --json",
    )
    @handle_errors
    def list_(
        holder_id: holder_arg, db: DbOpt = None, home: HomeOpt = None, as_json: JsonOpt = False
    ) -> None:
        from postex.accounts.app.api_keys import list_keys

        c = container(db, home)
        try:
            found = list_keys(c.ctx, holder_id, kind)
        finally:
            c.close()
        rows = [
            {"key_id": k.key_id, "prefix": k.prefix, "created_at": k.created_at,
             "revoked_at": k.revoked_at, "active": k.active}
            for k in found
        ]  # fmt: skip
        if as_json:
            emit_json({f"{kind}_id" if kind != "staff" else "user_id": holder_id, "keys": rows})
            return
        for r in rows:
            state = "active" if r["active"] else f"revoked {r['revoked_at']}"
            out.print(f"{r['prefix']}_…  created {r['created_at']}  {state}")

    @keys.command(
        "revoke",
        help="Revoke one API key: from the next request on, it gets 401.\n\n"
        f"Example: {prefix} revoke {example_id} pxk_9c0d1e2f3a4b --reason leaked",
    )
    @handle_errors
    def revoke(
        holder_id: holder_arg,
        key_id: KeyArg,
        reason: ReasonOpt = "",
        db: DbOpt = None,
        home: HomeOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        from postex.accounts.app.api_keys import revoke_key

        c = container(db, home)
        try:
            info = revoke_key(c.ctx, holder_id, key_id, _actor(), reason, kind)
        finally:
            c.close()
        if as_json:
            emit_json({"key_id": info.key_id, "prefix": info.prefix, "revoked_at": info.revoked_at})
        else:
            out.print(f"revoked {info.prefix} at {info.revoked_at}")

    @keys.command(
        "rotate",
        help="Issue a new API key and revoke the old one at once; print the new key once.\n\n"
        f"Example: {prefix} rotate {example_id} --json",
    )
    @handle_errors
    def rotate(
        holder_id: holder_arg,
        key_id: RotateOpt = None,
        reason: ReasonOpt = "",
        db: DbOpt = None,
        home: HomeOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        from postex.accounts.app.api_keys import rotate_key

        c = container(db, home)
        try:
            rotated = rotate_key(c.ctx, holder_id, _actor(), key_id, reason, kind)
        finally:
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

    return keys


app = keys_app("customer", "customers", "customer", "cus_3f9a0c1b2d4e5f607182")
