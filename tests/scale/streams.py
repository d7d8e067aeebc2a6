"""A customer's event stream, read like a browser's EventSource: on a thread, each event stamped
with the moment it arrived, reconnecting with Last-Event-ID when the stream ends."""

from __future__ import annotations

import http.client
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.support.sse import parse_event

RECONNECT_SECONDS = 1.0


@dataclass(frozen=True)
class StreamEvent:
    arrived: float  # time.monotonic()
    event: str
    id: str | None
    data: dict[str, Any]


class ConversationStream:
    """``GET /api/v1/conversations/{id}/events`` on one server, held open until ``close()``."""

    def __init__(self, base_url: str, conversation_id: str, token: str, after_id: str | None = None) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = f"/api/v1/conversations/{conversation_id}/events"
        self.token = token
        self.last_id = after_id
        self.events: queue.Queue[StreamEvent] = queue.Queue()
        self.connected = threading.Event()
        self.connects = 0
        self.errors: list[str] = []
        self._closing = threading.Event()
        self._connection: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._run, name=f"stream-{conversation_id[:8]}", daemon=True)

    def open(self, timeout: float = 15.0) -> None:
        self._thread.start()
        if not self.connected.wait(timeout):
            raise RuntimeError(f"the event stream on port {self.port} did not open: {self.errors}")

    def close(self) -> None:
        self._closing.set()
        connection = self._connection
        if connection is not None and connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)  # unblocks the reading thread at once
            except OSError:
                pass
        self._thread.join(5)

    def wait_for(self, role: str, timeout: float) -> StreamEvent | None:
        """The next message event of a message with this role, or None after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                return None
            if event.event == "message" and event.data.get("message", {}).get("role") == role:
                return event

    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                self._read_once()
            except (OSError, http.client.HTTPException, ValueError) as error:
                if not self._closing.is_set():
                    self.errors.append(f"{type(error).__name__}: {error}")
            if not self._closing.wait(RECONNECT_SECONDS):
                continue

    def _read_once(self) -> None:
        headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {self.token}"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        # Longer than the server's heartbeat (15 s), so a quiet stream is not taken for a dead one.
        connection = http.client.HTTPConnection(self.host, self.port, timeout=40)
        self._connection = connection
        try:
            connection.request("GET", self.path, headers=headers)
            response = connection.getresponse()
            if response.status != 200:
                raise ValueError(f"the stream answered {response.status}")
            self.connects += 1
            block: list[str] = []
            while not self._closing.is_set():
                line = response.readline()
                if not line:
                    return  # the server ended the stream: reconnect
                self.connected.set()
                text = line.decode().rstrip("\r\n")
                if text:
                    block.append(text)
                    continue
                event = self._parse(block)
                block = []
                if event is not None:
                    if event.id is not None:
                        self.last_id = event.id
                    self.events.put(event)
        finally:
            connection.close()

    @staticmethod
    def _parse(block: list[str]) -> StreamEvent | None:
        parsed = parse_event(block)
        if parsed is None:
            return None
        event, data, event_id = parsed
        return StreamEvent(time.monotonic(), event, event_id, data)
