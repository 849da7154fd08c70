"""Fixtures of the customer API tests: customers with API keys and their auth headers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from postex.bootstrap import Container
from tests.factories import new_customer


@dataclass(frozen=True)
class Caller:
    id: str
    api_key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_caller(node: Container, name: str) -> Caller:
    created = new_customer(node, name)
    return Caller(created.record.id, created.api_key, created.key_id)


@pytest.fixture
def alice(node: Container) -> Caller:
    return make_caller(node, "Alice Exports Ltd")


@pytest.fixture
def bob(node: Container) -> Caller:
    return make_caller(node, "Bob Shipping plc")


@pytest.fixture
def sqlite_alice(sqlite_node: Container) -> Caller:
    return make_caller(sqlite_node, "Alice Exports Ltd")
