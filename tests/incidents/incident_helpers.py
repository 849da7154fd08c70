"""Helpers for incident tests: staff principals, item states, accepted items."""

from __future__ import annotations

from postex.accounts.app.auth import Principal, Role, issue_token
from postex.bootstrap import Container
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres
from postex.items.domain.items import ItemState
from postex.sites.app.acceptance import Scan, accept


def staff(
    node: Container, user_id: str, role: Role, site: str | None = None
) -> tuple[Principal, str]:
    """A staff principal and its bearer token, recorded in the log like a real user's."""
    token = issue_token("staff", user_id, role, site=site, name=user_id)
    with node.ctx.store.write(node.ctx.site) as uow:
        uow.append([token.event])
    principal = Principal("staff", user_id, role, token.key_id, site=site, name=user_id)
    return principal, token.token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def item_state(node: Container, item_id: str) -> str:
    rows = execute_raw(
        node.engine,
        "SELECT state FROM items WHERE id = " + ("%s" if is_postgres(node.engine) else "?"),
        [item_id],
    )
    return str(rows[0][0])


ACCEPTED = str(ItemState.ACCEPTED)


def accept_items(node: Container, item_ids: list[str], site: str = "GBLALA") -> None:
    """Accept items at a site through the site-operations use case (a clerk scans them)."""
    clerk, _ = staff(node, f"usr_clerk_{site.lower()}", Role.CLERK, site=site)
    with node.ctx.store.read() as uow:
        weights = {i: node_weight(uow, i) for i in item_ids}
    accept(node.site_ops, clerk, site, [Scan(i, weights[i]) for i in item_ids])


def node_weight(uow: object, item_id: str) -> int:
    from postex.items.app.preadvice import ItemRepository

    record = uow.repo(ItemRepository).get_any(item_id)  # type: ignore[attr-defined]
    assert record is not None
    return int(record.weight_g)
