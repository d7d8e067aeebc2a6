"""Wake-up signals for live streams: in-process, or through Redis pub/sub across processes.

The database stays the source of truth. A signal only says "look again": a stream that misses
one (Redis down, a dropped connection) still catches up at its next heartbeat or reconnect.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

log = structlog.get_logger(__name__)

CHANNEL_PREFIX = "chatdesk:events:"
QUEUE_SIZE = 256


def conversation_channel(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


INBOX_CHANNEL = "inbox"


class Subscription:
    def __init__(self) -> None:
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=QUEUE_SIZE)

    def deliver(self, payload: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(payload)
        except queue.Full:  # a slow reader catches up from the database anyway
            pass

    def wait(self, timeout: float) -> dict[str, Any] | None:
        """The next signal, or None after ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items


SHUTDOWN = {"shutdown": True}


class LocalEventBus:
    """Signals between the threads (or greenlets) of one process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._lock = threading.Lock()
        self.shutting_down = False

    def shutdown(self) -> None:
        """The server is stopping: tell every open stream to end (clients reconnect elsewhere)."""
        self.shutting_down = True
        with self._lock:
            subscribers = [s for group in self._subscribers.values() for s in group]
        for subscription in subscribers:
            subscription.deliver(SHUTDOWN)

    def publish(self, channel: str, payload: dict[str, Any] | None = None) -> None:
        self.dispatch(channel, payload or {})

    def dispatch(self, channel: str, payload: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(channel, ()))
        for subscription in subscribers:
            subscription.deliver(payload)

    @contextmanager
    def subscribe(self, channel: str) -> Iterator[Subscription]:
        subscription = Subscription()
        with self._lock:
            self._subscribers.setdefault(channel, set()).add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                subscribers = self._subscribers.get(channel, set())
                subscribers.discard(subscription)
                if not subscribers:
                    self._subscribers.pop(channel, None)

    def close(self) -> None:
        """Nothing to release in-process."""


class RedisEventBus(LocalEventBus):
    """Local delivery at once, plus Redis pub/sub to the other processes.

    One listener per process (pattern-subscribed to every channel) fans signals out to this
    process's subscribers, so a thousand open streams cost one Redis connection, not a thousand.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1)
        self._origin = uuid.uuid4().hex
        self._listener: threading.Thread | None = None
        self._stopping = threading.Event()

    def publish(self, channel: str, payload: dict[str, Any] | None = None) -> None:
        payload = payload or {}
        self.dispatch(channel, payload)
        try:
            self._redis.publish(CHANNEL_PREFIX + channel,
                                json.dumps({"origin": self._origin, "payload": payload}))
        except Exception as error:  # other processes catch up at their next heartbeat
            log.warning("events.publish_failed", channel=channel, error=str(error))

    @contextmanager
    def subscribe(self, channel: str) -> Iterator[Subscription]:
        self._ensure_listener()
        with super().subscribe(channel) as subscription:
            yield subscription

    def _ensure_listener(self) -> None:
        with self._lock:
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(target=self._listen, name="chatdesk-events",
                                                  daemon=True)
                self._listener.start()

    def _listen(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.psubscribe(CHANNEL_PREFIX + "*")
                backoff = 0.5
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._relay(message)
            except Exception as error:
                log.warning("events.listener_failed", error=str(error), retry_in=backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                pubsub.close()

    def _relay(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        try:
            envelope = json.loads(message["data"])
        except (TypeError, ValueError):
            return
        if envelope.get("origin") == self._origin:
            return  # delivered locally when published
        self.dispatch(channel.removeprefix(CHANNEL_PREFIX), envelope.get("payload") or {})

    def close(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.join(timeout=3)
        self._redis.close()
