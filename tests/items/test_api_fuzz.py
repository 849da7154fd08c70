"""Schemathesis against the customer routes: no 5xx, every response as documented.

Hypothesis generates requests from /openapi.json, both fitting the schema and breaking it,
and sends them to the ASGI app with a real customer's API key: a few hundred in all.

Negative cases must also be refused (``negative_data_rejection``). The caller's key is
attached to every case at send time, except to a negative case whose mutation touched the
headers: that one is sent with the headers it was generated with (the required
``Authorization`` removed or malformed), so it meets a 401 instead of being accepted with a
good key put back (which failed for about one seed in three before). The test asserts both
kinds of negative case actually occurred.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from postex.bootstrap import Container
from postex.server import create_app
from tests.factories import make_caller, new_items

CUSTOMER_PATHS = r"^/api/v1/(items|manifests|labels)"
EXAMPLES_PER_MODE = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.mark.sqlite_only
def test_customer_routes_hold_to_their_schema(node: Container) -> None:
    """Any generated request gets a documented status, media type and body; never a 5xx."""
    caller = make_caller(node, "Fuzz Ltd")
    new_items(node, caller.id, 3)
    new_items(node, caller.id, 1, service="parcel")
    app = create_app(node)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=CUSTOMER_PATHS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11  # with the receipt and the certificate of posting

    def key_for(case: Any) -> dict[str, str] | None:
        """The caller's key, unless a negative mutation broke the headers: that case
        is sent with the headers it was generated with (missing or malformed)."""
        headers = case.meta.components.get(ParameterLocation.HEADER)
        if headers is not None and headers.mode is GenerationMode.NEGATIVE:
            return None
        return caller.headers

    sent = 0
    negative: Counter[tuple[bool, int]] = Counter()  # (key sent, status) of negative cases
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            negative_mode = mode is GenerationMode.NEGATIVE
            checks = [*CHECKS, negative_data_rejection] if negative_mode else CHECKS

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                nonlocal sent
                response = case.call_and_validate(headers=key_for(case), checks=checks)  # noqa: B023
                sent += 1
                if negative_mode:  # noqa: B023
                    keyed = "Authorization" in response.request.headers
                    negative[(keyed, response.status_code)] += 1

            run()  # called at once, inside this iteration
    assert sent >= 300
    assert negative[(False, 401)] > 0  # a removed key stays removed: refused as unauthenticated
    assert negative[(True, 422)] > 0  # with the key, bad data reaches the route and is refused
    assert not any(status >= 500 for _, status in negative)
