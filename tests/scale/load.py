"""Customers talking to the bot through the proxy, as a careful client would: every message has
a fresh Idempotency-Key, and a failed try (no answer, a 5xx, a 429) is retried with the same key
after a short backoff. Every try is recorded, so the accounting can hold the server to what it
acknowledged."""

from __future__ import annotations

import csv
import itertools
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from tests.scale.services import ROOT

QUESTIONS_FILE = ROOT / "data" / "demo" / "calibration.csv"
CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 30.0


def demo_questions() -> list[str]:
    with QUESTIONS_FILE.open(newline="", encoding="utf-8") as handle:
        return [row["question"] for row in csv.DictReader(handle)]


@dataclass(frozen=True)
class Attempt:
    """One HTTP try of a client: opening a conversation, or sending a message (``key`` set)."""

    kind: str  # "conversation" or "message"
    customer: int
    conversation_id: str | None
    key: str | None
    try_number: int
    started: float  # time.monotonic()
    ended: float
    status: int | None  # None: no HTTP answer at all
    error: str | None  # why there was no answer (connection refused, timeout, ...)
    retry_after: str | None = None
    message_id: str | None = None
    reply_id: str | None = None
    replayed: bool = False
    handoff: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def acknowledged(self) -> bool:
        """The server said the message is stored."""
        return self.kind == "message" and self.status == 201

    @property
    def outcome(self) -> str:
        """What the client saw: a status code, or the kind of failure."""
        return str(self.status) if self.status is not None else (self.error or "no answer")

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class LoadConfig:
    customers: int = 4
    messages_per_conversation: int = 6
    think_seconds: float = 0.25
    backoff_seconds: float = 0.2
    backoff_cap_seconds: float = 1.0
    #: A message not acknowledged after this long is given up (and counted as such).
    give_up_seconds: float = 60.0


def _id(item: dict[str, Any]) -> str | None:
    return str(item["id"]) if item.get("id") is not None else None


def _retryable(status: int | None) -> bool:
    return status is None or status >= 500 or status in (408, 429)


class LoadDriver:
    """Customers on threads until ``stop()``; each finishes the message it is sending first."""

    def __init__(self, base_url: str, config: LoadConfig, seed: int = 7) -> None:
        self.base_url = base_url
        self.config = config
        self.attempts: list[Attempt] = []
        self.conversations: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        questions = demo_questions()
        random.Random(seed).shuffle(questions)
        self._questions = itertools.cycle(questions)
        self._threads = [threading.Thread(target=self._customer, args=(n,), name=f"customer-{n}",
                                          daemon=True) for n in range(config.customers)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 90.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))

    def snapshot(self) -> list[Attempt]:
        with self._lock:
            return list(self.attempts)

    def _record(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def _next_question(self) -> str:
        with self._lock:
            return next(self._questions)

    # -- one customer ------------------------------------------------------------------------

    def _customer(self, number: int) -> None:
        with requests.Session() as session:
            conversation: tuple[str, str] | None = None
            sent = 0
            while not self._stop.is_set():
                if conversation is None or sent >= self.config.messages_per_conversation:
                    conversation = self._open(session, number)
                    sent = 0
                    if conversation is None:
                        return
                last = self._send(session, number, conversation, self._next_question())
                sent += 1
                if last is not None and last.acknowledged and last.reply_id is None and not last.replayed:
                    conversation = None  # a person has it now: a new customer starts over
                elif last is not None and last.handoff:
                    conversation = None
                self._stop.wait(self.config.think_seconds * random.uniform(0.5, 1.5))

    def _open(self, session: requests.Session, number: int) -> tuple[str, str] | None:
        """A new conversation (id, token), retried until it works or the run stops."""
        for try_number in itertools.count(1):
            attempt, body = self._post(session, number, "/api/v1/conversations", {}, None, None, try_number)
            self._record(attempt)
            if attempt.status == 201 and body is not None:
                with self._lock:
                    self.conversations.append(body["id"])
                return body["id"], body["token"]
            if self._stop.is_set():
                return None
            self._stop.wait(self._backoff(try_number, attempt))
        return None

    def _send(self, session: requests.Session, number: int, conversation: tuple[str, str],
              text: str) -> Attempt | None:
        """One message, retried with the same key until acknowledged or given up."""
        conversation_id, token = conversation
        key = uuid.uuid4().hex
        deadline = time.monotonic() + self.config.give_up_seconds
        attempt: Attempt | None = None
        for try_number in itertools.count(1):
            attempt, _ = self._post(session, number, f"/api/v1/conversations/{conversation_id}/messages",
                                    {"text": text}, token, key, try_number, conversation_id)
            self._record(attempt)
            if attempt.acknowledged or not _retryable(attempt.status) or time.monotonic() > deadline:
                return attempt
            time.sleep(self._backoff(try_number, attempt))
        return attempt

    def _backoff(self, try_number: int, attempt: Attempt) -> float:
        seconds = min(self.config.backoff_cap_seconds, self.config.backoff_seconds * 2.0 ** (try_number - 1))
        if attempt.retry_after is not None:
            try:
                seconds = max(seconds, min(float(attempt.retry_after), 5.0))
            except ValueError:
                pass
        return seconds * random.uniform(0.8, 1.2)

    def _post(self, session: requests.Session, number: int, path: str, body: dict[str, Any],
              token: str | None, key: str | None, try_number: int,
              conversation_id: str | None = None) -> tuple[Attempt, dict[str, Any] | None]:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        kind = "message" if key is not None else "conversation"
        started = time.monotonic()
        try:
            response = session.post(self.base_url + path, json=body, headers=headers,
                                    timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.Timeout as error:
            return Attempt(kind, number, conversation_id, key, try_number, started, time.monotonic(),
                           None, f"timeout ({type(error).__name__})"), None
        except requests.RequestException as error:
            return Attempt(kind, number, conversation_id, key, try_number, started, time.monotonic(),
                           None, f"connection error ({type(error).__name__})"), None
        ended = time.monotonic()
        payload: dict[str, Any] | None = None
        if response.headers.get("Content-Type", "").startswith("application/json"):
            try:
                payload = response.json()
            except ValueError:
                payload = None
        message = (payload or {}).get("message") or {}
        reply = (payload or {}).get("reply") or {}
        return Attempt(kind, number, conversation_id, key, try_number, started, ended, response.status_code,
                       None, response.headers.get("Retry-After"),
                       message_id=_id(message), reply_id=_id(reply),
                       replayed=response.headers.get("Idempotent-Replayed") == "true",
                       handoff=bool(reply.get("handoff"))), payload
