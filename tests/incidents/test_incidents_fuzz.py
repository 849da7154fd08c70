"""Schemathesis against the incident routes: no 5xx, every response as documented."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from postex.accounts.app.auth import Role
from postex.bootstrap import Container
from postex.server import create_app
from tests.incidents.incident_helpers import bearer, staff

INCIDENT_PATHS = r"^/(api/v1/(holds|advisories|audit)|status)"
EXAMPLES_PER_MODE = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.sqlite_only
def test_incident_routes_hold_to_their_schema(node: Container) -> None:
    """Generated requests from an ops user get documented answers and never a 5xx."""
    _, token = staff(node, "usr_fuzz_ops", Role.OPS)
    app = create_app(node)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=INCIDENT_PATHS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    sent = 0
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                nonlocal sent
                case.call_and_validate(headers=bearer(token), checks=CHECKS)
                sent += 1

            try:
                run()
            except Unsatisfiable:  # nothing to break: /status takes no input
                assert mode is GenerationMode.NEGATIVE
    assert sent >= 200
