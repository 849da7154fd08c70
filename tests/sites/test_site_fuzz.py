"""Whatever a client sends to the site routes, the answer is a response, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postex.bootstrap import Container
from tests.factories import SITE, staff

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=40)
    | st.sampled_from(["LA100000003GB", "USJFKA", "A", "UN", "BA", "2026-11-24", SITE]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "item_id",
                    "weight_g",
                    "scans",
                    "destination",
                    "category",
                    "subclass",
                    "item_ids",
                    "gross_weight_g",
                    "last",
                    "receptacle_ids",
                    "carrier",
                    "flight",
                    "flight_date",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)
PATHS = [
    "/acceptances",
    "/receptacles",
    "/receptacles/rcp_x/items",
    "/receptacles/rcp_x/close",
    "/despatches",
    "/despatches/GBLALAUSJFKAAUN60001/close",
    "/despatches/GBLALAUSJFKAAUN60001/handover",
]


@pytest.fixture
def boss(node: Container) -> dict[str, str]:
    return staff(node, "supervisor").headers


@pytest.mark.sqlite_only
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(PATHS), body=json_values, site=st.sampled_from([SITE, "XX", "GBLGWA"]))
def test_site_routes_never_fail_with_a_server_error(
    boss: dict[str, str], client: TestClient, path: str, body: Any, site: str
) -> None:
    """Random JSON bodies on every site POST route get a 2xx or a 4xx problem."""
    who = boss
    got = client.post(f"/api/v1/sites/{site}{path}", json=body, headers=who)
    assert got.status_code < 500, got.text
