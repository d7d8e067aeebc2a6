"""Serve an app for real: on a thread (werkzeug) or as its own process (``chatdesk serve``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import URLError
from urllib.request import Request, urlopen

from flask import Flask
from werkzeug.serving import make_server

from tests.support.sse import SSEReader

CHATDESK = Path(sys.executable).with_name("chatdesk")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def wait_ready(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 90) -> float:
    """Seconds until ``url``/readyz answers 200; RuntimeError if ``process`` ends or time runs out."""
    started = time.monotonic()
    while True:
        try:
            with urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (OSError, URLError):
            pass
        if (process is not None and process.poll() is not None) or time.monotonic() - started > timeout:
            raise RuntimeError(f"{url} did not become ready")
        time.sleep(0.1)


# Tests and benchmarks send many messages from one address; the limits have tests of their own.
NO_CUSTOMER_LIMITS = {"CHATDESK_MESSAGE_RATE_LIMIT": "", "CHATDESK_CONVERSATION_RATE_LIMIT": ""}


@contextmanager
def serve_process(instance: Path, **env: str) -> Iterator[str]:
    """``chatdesk serve`` (gunicorn, one worker) on a free port, with these CHATDESK_* settings."""
    port = free_port()
    environment = {**os.environ, "CHATDESK_INSTANCE_PATH": str(instance), "CHATDESK_LOG_LEVEL": "WARNING",
                   **NO_CUSTOMER_LIMITS, **env}
    with (instance / f"server-{port}.log").open("w") as log:
        process = subprocess.Popen([str(CHATDESK), "serve", "--port", str(port), "--workers", "1"],
                                   env=environment, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def open_stream(url: str, headers: dict[str, str] | None = None) -> Iterator[SSEReader]:
    response = urlopen(Request(url, headers={"Accept": "text/event-stream", **(headers or {})}),
                       timeout=30)
    reader = SSEReader(iter(response.readline, b""))
    try:
        yield reader
    finally:
        # Shut the socket first: that unblocks the reading thread at once.
        response.fp.raw._sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        reader.close()
        response.close()
