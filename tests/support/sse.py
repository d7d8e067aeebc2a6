"""Read a server-sent event stream in the background, event by event."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class ServerSentEvent:
    event: str
    data: dict[str, Any]
    id: str | None


class SSEReader:
    """Parses chunks from ``chunks`` (bytes) on a thread; ``next(timeout)`` returns events.

    ``close()`` stops at the next chunk (the server's heartbeat) and closes the stream from the
    reading thread itself, since a generator cannot be closed while another thread runs it.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._events: queue.Queue[ServerSentEvent | None] = queue.Queue()
        self._chunks = chunks
        self._stop = threading.Event()
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def __enter__(self) -> SSEReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> None:
        buffer = ""
        try:
            for chunk in self._chunks:
                if self._stop.is_set():
                    break
                buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    event = self._parse(block)
                    if event is not None:
                        self._events.put(event)
        except Exception as error:  # the connection went away, or the server failed
            self.error = error
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
            self._events.put(None)

    @staticmethod
    def _parse(block: str) -> ServerSentEvent | None:
        event = parse_event(block.splitlines())
        return ServerSentEvent(*event) if event is not None else None

    def next(self, timeout: float = 5.0, event: str = "message") -> ServerSentEvent:
        """The next event of type ``event`` (others are skipped)."""
        while True:
            item = self._events.get(timeout=timeout)
            if item is None:
                raise EOFError(f"the stream ended ({self.error!r})")
            if item.event == event:
                return item


def parse_event(lines: Iterable[str]) -> tuple[str, dict[str, Any], str | None] | None:
    """One event's lines as (event, data, id); None for a comment (a keep-alive) or no data."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":") or ":" not in line:
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")
    if "data" not in fields:
        return None
    return fields.get("event", "message"), json.loads(fields["data"]), fields.get("id")
