"""Requests generated from the OpenAPI document, valid and invalid, for every operation: whatever
arrives, the answer is never a server error. Signed in as an admin, so staff routes are reached.

The event streams are left out: they stay open until the client leaves (tested in the journeys).
The examples are derandomised, so a run is the same every time.
"""

from __future__ import annotations

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.conftest import StaffAuth

EXAMPLES = 25


def test_generated_requests_never_get_a_server_error(app: Flask) -> None:
    admin = StaffAuth(app).headers("admin")
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/events"):
            continue
        strategy = (operation.as_strategy(GenerationMode.POSITIVE)
                    | operation.as_strategy(GenerationMode.NEGATIVE))

        @given(case=strategy)
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def never_a_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=admin, checks=[not_a_server_error])

        never_a_server_error()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert len(tested) >= 25, tested  # every operation of the customer, staff and OpenAI APIs
