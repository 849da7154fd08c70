"""``postex audit``: read the audit trail on the node (newest first, with filters)."""

from typing import Annotated

import typer

from postex.cli.common import (
    DbOpt,
    HomeOpt,
    JsonOpt,
    container,
    emit_json,
    handle_errors,
    out,
)


@handle_errors
def audit(
    actor: Annotated[
        str | None, typer.Option("--actor", help="Actor id, e.g. usr_… or cli.")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Exact, or a prefix with *: hold.*")
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="What was acted on.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="RFC 3339, inclusive.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="RFC 3339, exclusive.")] = None,
    cursor: Annotated[str | None, typer.Option("--cursor", help="next_cursor of a page.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Entries per page (1-500).")] = 100,
    db: DbOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Who did what, when, from where and why: every staff action, newest first.

    Example: postex audit --action "hold.*" --since 2023-01-11T00:00:00Z
    """
    from postex.incidents.app.audit_trail import make_filter, read_audit

    c = container(db, home)
    page = read_audit(c.ctx, make_filter(actor, action, target, since, until), cursor, limit)
    c.close()
    if as_json:
        emit_json({"entries": [e.to_dict() for e in page.entries], "next_cursor": page.next_cursor})
        return
    for e in page.entries:
        who = e.actor.get("id", "?")
        role = e.actor.get("role")
        where = e.actor.get("ip") or e.actor.get("site") or ""
        why = f"  because {e.reason}" if e.reason else ""
        line = f"{e.recorded_at}  {who}{f' ({role})' if role else ''} {where}  {e.action}"
        out.print(f"{line} {e.target}{why}", markup=False, highlight=False, soft_wrap=True)
    if page.next_cursor:
        out.print(f"more: --cursor {page.next_cursor}", soft_wrap=True)
