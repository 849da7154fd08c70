"""Helpers for site-operation tests: staff and partner principals, items ready to accept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from postex.accounts.app.auth import Principal, Role, issue_token
from postex.accounts.app.staff import create_user
from postex.bootstrap import Container
from postex.items.app.preadvice import ItemRecord
from tests.factories import DOCUMENTS_LETTER, new_customer, new_items

SITE = "GBLALA"
SERIES = {"destination": "USJFKA", "category": "A", "subclass": "UN"}


@dataclass(frozen=True)
class Staff:
    principal: Principal
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def staff(node: Container, role: str, site: str | None = SITE, name: str = "") -> Staff:
    created = create_user(node.ctx, name or f"{role}.{site or 'all'}".lower(), role, site)
    r = created.record
    p = Principal("staff", r.id, Role(role), created.key_id, site=r.site, name=r.username)
    return Staff(p, created.token)


def partner(node: Container, offices: tuple[str, ...] = ("BA",)) -> Staff:
    """A partner key (the partners feature has its own command; here only the credential)."""
    token = issue_token("partner", "prt_test", Role.PARTNER, offices=offices, name="BA")
    with node.ctx.store.write(node.ctx.site) as uow:
        uow.append([token.event])
    p = Principal("partner", "prt_test", Role.PARTNER, token.key_id, offices=offices)
    return Staff(p, token.token)


def letters(node: Container, n: int = 3, documents: int = 1, **changes: Any) -> list[ItemRecord]:
    """Tracked letters with goods for the US, and some documents-only letters."""
    customer = new_customer(node)
    goods = new_items(node, customer.record.id, n, **changes)
    docs = [
        new_items(
            node,
            customer.record.id,
            1,
            **{k: v for k, v in DOCUMENTS_LETTER.items() if k != "importer"},
            importer=None,
        )[0]
        for _ in range(documents)
    ]
    return goods + docs
