"""Requests generated from the OpenAPI document, valid and invalid, for every operation: whatever
arrives, the answer is never a server error, on SQLite and on PostgreSQL (which refuses what
SQLite lets through: NUL characters, integers beyond 32 bits). Signed in as an admin, so staff
routes are reached.

The event streams are left out: they stay open until the client leaves (tested in the journeys).
The examples are derandomised, so a run is the same every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from chatdesk import create_app
from chatdesk.extensions import db
from tests.conftest import StaffAuth, fresh_postgres_database, make_settings, migrate_and_load_demo

EXAMPLES = 25


@pytest.fixture
def pg_app(tmp_path: Path) -> Iterator[Flask]:
    """On a PostgreSQL database of its own: the generated requests change everything they can."""
    with fresh_postgres_database() as url:
        app = create_app(make_settings(tmp_path, database_url=url))
        migrate_and_load_demo(app)
        yield app
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_generated_requests_never_get_a_server_error(request: pytest.FixtureRequest, database: str) -> None:
    app: Flask = request.getfixturevalue("app" if database == "sqlite" else "pg_app")
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
    assert len(tested) >= 25, tested  # every operation of the customer and staff APIs
