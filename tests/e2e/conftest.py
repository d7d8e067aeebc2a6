"""A real server (``chatdesk serve``, gunicorn) and a real browser (Debian's chromium)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from tests.conftest import MODELS_DIR, make_settings
from tests.e2e.pages import STAFF, STAFF_PASSWORD
from tests.support.servers import NO_CUSTOMER_LIMITS

CHROMIUM = Path("/usr/bin/chromium")
CHATDESK = Path(sys.executable).with_name("chatdesk")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def add_staff(instance: Path) -> None:
    """The staff accounts of ``pages.STAFF``, written to the instance's database before it serves."""
    from chatdesk import create_app
    from chatdesk.extensions import db
    from chatdesk.services import staff

    app = create_app(make_settings(instance))
    with app.app_context():
        for role, (email, name) in STAFF.items():
            staff.create_user(email, role, STAFF_PASSWORD, name)
        db.session.remove()
        db.engine.dispose()


@contextmanager
def serving(instance: Path, **settings: str) -> Iterator[str]:
    """``chatdesk serve`` on the instance folder, until the block ends."""
    port = free_port()
    env = {**os.environ, "CHATDESK_INSTANCE_PATH": str(instance),
           "CHATDESK_MODELS_DIR": str(MODELS_DIR), "CHATDESK_LOG_LEVEL": "WARNING",
           # A stream whose browser has gone is noticed at the next heartbeat; keep that short.
           "CHATDESK_SSE_HEARTBEAT": "1", **NO_CUSTOMER_LIMITS,
           **{f"CHATDESK_{name.upper()}": value for name, value in settings.items()}}
    log = (instance / "server.log").open("w")
    # Each open event stream holds one of gunicorn's threads (gthread workers): the chat page and
    # the console each keep one open, so the default two threads would starve the pages.
    server = subprocess.Popen([str(CHATDESK), "serve", "--port", str(port), "--workers", "1",
                               "--threads", "16"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urlopen(f"{url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((instance / "server.log").read_text()) from None
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _instance(tmp_path_factory: pytest.TempPathFactory, demo_sqlite: Path, name: str) -> Path:
    instance = tmp_path_factory.mktemp(name)
    shutil.copy(demo_sqlite, instance / "chatdesk.db")
    add_staff(instance)
    return instance


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, demo_sqlite: Path) -> Iterator[str]:
    """The demo store with an agent and an analyst (``pages.STAFF``); the team is always in."""
    with serving(_instance(tmp_path_factory, demo_sqlite, "live")) as url:
        yield url


@pytest.fixture(scope="session")
def after_hours_server(tmp_path_factory: pytest.TempPathFactory, demo_sqlite: Path) -> Iterator[str]:
    """The same, but the team is away now: it only works one hour, three days from today."""
    day = DAYS[(datetime.now(UTC).weekday() + 3) % 7]
    with serving(_instance(tmp_path_factory, demo_sqlite, "after-hours"),
                 business_hours=f"{day} 09:00-10:00", business_timezone="UTC") as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must run the browser tests: /usr/bin/chromium is missing (make browser)")
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def new_page(browser) -> Iterator[Callable[..., Any]]:  # type: ignore[no-untyped-def]
    """Pages in browser contexts of their own (separate storage: one per person), closed after."""
    contexts = []

    def open_page(**options: Any) -> Any:
        context = browser.new_context(**options)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
