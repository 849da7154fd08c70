"""``/docs`` and ``/redoc`` load everything from the node: they work with the internet down."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from postex.web.api_docs import ASSETS, PREFIX

REFERENCE = re.compile(r'(?:src|href)=["\']?([^"\' >]+)')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_pages_reference_only_the_node_itself(client: TestClient, page: str) -> None:
    r = client.get(page)
    assert r.status_code == 200
    refs = REFERENCE.findall(r.text)
    assert refs, r.text
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
    assert "cdn" not in r.text.lower() and "fonts.googleapis" not in r.text
    # Whatever the bundles themselves would fetch, the browser may reach only this node.
    assert "default-src 'self'" in r.headers["content-security-policy"]


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_every_asset_the_pages_name_is_served(client: TestClient, name: str) -> None:
    r = client.get(f"{PREFIX}/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == ASSETS[name].split(";")[0]
    assert len(r.content) > 10_000 or name == "favicon.png"


def test_nothing_else_is_served_under_the_prefix(client: TestClient) -> None:
    assert client.get(f"{PREFIX}/../../pyproject.toml").status_code == 404
    assert client.get(f"{PREFIX}/swagger-ui.js").status_code == 404
