"""Agent replies reach a customer connected to another server process, through Redis."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from urllib.request import Request, urlopen

import pytest

from tests.conftest import MODELS_DIR, StaffAuth
from tests.support.servers import open_stream, serve_process

pytestmark = pytest.mark.redis


def call(url: str, method: str = "GET", body: dict | None = None,  # type: ignore[type-arg]
         headers: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    data = json.dumps(body).encode() if body is not None else None
    request = Request(url, data=data, method=method,
                      headers={"Content-Type": "application/json", **(headers or {})})
    with urlopen(request, timeout=30) as response:
        result: dict = json.loads(response.read() or b"{}")  # type: ignore[type-arg]
        return result


def test_two_server_processes_share_events_through_redis(tmp_path: Path, demo_sqlite: Path,
                                                         redis_url: str) -> None:
    from chatdesk import create_app
    from tests.conftest import make_settings

    shutil.copy(demo_sqlite, tmp_path / "chatdesk.db")
    create_app(make_settings(tmp_path))  # the secret key file both processes will share
    StaffAuth(create_app(make_settings(tmp_path))).user("agent", "sam@example.com", name="Sam")
    settings = {"CHATDESK_REDIS_URL": redis_url, "CHATDESK_MODELS_DIR": str(MODELS_DIR),
                # A long heartbeat: only a Redis signal can deliver the reply quickly.
                "CHATDESK_SSE_HEARTBEAT": "60", "CHATDESK_SECRET_KEY": "shared-secret-" + "y" * 40}
    with serve_process(tmp_path, **settings) as customer_server, \
            serve_process(tmp_path, **settings) as agent_server:
        created = call(f"{customer_server}/api/v1/conversations", "POST", {})
        customer = {"Authorization": f"Bearer {created['token']}"}
        conversation = f"/api/v1/conversations/{created['id']}"
        call(f"{customer_server}{conversation}/messages", "POST", {"text": "I need a human"}, customer)
        token = call(f"{agent_server}/api/v1/auth/token", "POST",
                     {"email": "sam@example.com", "password": StaffAuth.PASSWORD})["access_token"]
        agent = {"Authorization": f"Bearer {token}"}

        with open_stream(f"{customer_server}{conversation}/events", customer) as stream:
            assert [stream.next().data["message"]["role"] for _ in range(2)] == ["customer", "system"]
            call(f"{agent_server}/api/v1/inbox/{created['id']}/claim", "POST", None, agent)
            started = time.monotonic()
            call(f"{agent_server}/api/v1/inbox/{created['id']}/messages", "POST",
                 {"text": "Hello from the other process"}, agent)
            joined = stream.next(timeout=10)
            reply = stream.next(timeout=10)
            elapsed = time.monotonic() - started
        assert joined.data["message"]["role"] == "system" and joined.data["status"] == "agent"
        assert reply.data["message"] == {**reply.data["message"], "role": "agent",
                                         "text": "Hello from the other process"}
        assert elapsed < 5, f"delivered after {elapsed:.1f}s: not through Redis"
