"""Helpers for incident tests: staff principals, a settable clock, accepted items."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from postex.accounts.app.auth import Principal, Role, issue_token
from postex.bootstrap import Container, build
from postex.config import load_settings
from postex.eventlog.sql.admin import execute_raw
from postex.eventlog.sql.engine import is_postgres
from postex.items.domain.items import ItemState
from postex.server import create_app
from postex.sites.app.acceptance import Scan, accept


class StepClock:
    """A clock tests move forward by hand (always timezone-aware UTC)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)


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


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def inode(tmp_path: Path, db_url: str, clock: StepClock) -> Iterator[Container]:
    """A node on the parametrised store whose clock the test moves by hand."""
    settings = load_settings(
        home=str(tmp_path / "home"), db_url=db_url, site="GBLALA", webhook_worker_seconds=0
    )
    c = build(settings, create=True, clock=clock)
    yield c
    c.close()


@pytest.fixture
def iclient(inode: Container) -> Iterator[TestClient]:
    with TestClient(create_app(inode)) as c:
        yield c


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
