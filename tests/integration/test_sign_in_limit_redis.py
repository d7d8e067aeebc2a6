"""Sign-in attempts are counted in Redis, so several server processes share one limit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chatdesk import create_app
from tests.conftest import make_settings

pytestmark = pytest.mark.redis


def test_attempts_on_one_server_count_on_another(tmp_path: Path, demo_sqlite: Path, redis_url: str) -> None:
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(demo_sqlite, tmp_path / name / "chatdesk.db")
        servers.append(create_app(make_settings(tmp_path / name, redis_url=redis_url)).test_client())
    guess = {"email": "agent@example.com", "password": "guess number x"}
    statuses = [servers[i % 2].post("/api/v1/auth/token", json=guess).status_code for i in range(10)]
    assert statuses == [401] * 10
    # The eleventh attempt is refused whichever server it reaches: the ten were counted together.
    for server in servers:
        refused = server.post("/api/v1/auth/token", json=guess)
        assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
        assert "Retry-After" in refused.headers
