"""A fake OpenAI-compatible server: a real HTTP server on loopback that tests script and inspect.

It serves ``POST /v1/chat/completions`` (JSON, or SSE when the request says ``stream: true``),
``GET /v1/models`` and Azure's ``POST /openai/deployments/{deployment}/chat/completions
?api-version=...``. Queue :class:`ScriptedReply` objects (one per request, in order; when the queue
is empty the ``default_reply`` is used) and read back every request in ``requests``.

    with FakeOpenAIServer() as server:
        server.queue(ScriptedReply("Parcels take 3 days [1]."), ScriptedReply.error(503))
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        ...
        assert server.requests[0].body["model"] == "fake-model"

Many requests can be served at once (a thread each). ``stop()`` interrupts delayed replies, closes
kept-alive connections and joins every thread, so nothing leaks into the next test.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_TEXT = "This is the fake model's answer."
DEFAULT_MODEL = "fake-model"
AZURE_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/chat/completions$")

_ERROR_TYPES = {400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
                403: ("invalid_request_error", "forbidden"), 404: ("invalid_request_error", "not_found"),
                429: ("requests", "rate_limit_exceeded"), 500: ("server_error", None),
                502: ("server_error", None), 503: ("server_error", "overloaded")}


@dataclass
class ScriptedReply:
    """What the server does for one request. The defaults give a normal, successful answer."""

    text: str = DEFAULT_TEXT
    status: int = 200
    #: Streamed pieces; by default the text is cut into words (each with its trailing blank).
    chunks: Sequence[str] | None = None
    #: Seconds before each streamed piece.
    chunk_delay: float = 0.0
    #: Seconds before anything is sent (not even the status line).
    first_byte_delay: float = 0.0
    #: Close the connection after this many pieces (0: before sending any response at all).
    drop_after: int | None = None
    #: Sent as the whole body, as is (malformed JSON, an HTML error page...).
    body: bytes | None = None
    content_type: str = "application/json"
    #: Raw SSE ``data:`` payloads replacing the generated events (``[DONE]`` is not added).
    events: Sequence[str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    error_message: str | None = None
    #: Report token usage (in the JSON answer, or in a last chunk when the stream asked for it).
    usage: bool = True
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"
    null_content: bool = False
    no_choices: bool = False
    model: str | None = None

    @classmethod
    def error(cls, status: int, message: str | None = None, *,
              retry_after: float | None = None) -> ScriptedReply:
        """An error status with OpenAI's error JSON body (and ``Retry-After`` when given)."""
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        return cls(status=status, error_message=message, headers=headers)

    @classmethod
    def malformed_json(cls) -> ScriptedReply:
        return cls(body=b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"ind')

    @classmethod
    def not_json(cls) -> ScriptedReply:
        return cls(body=b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")

    @classmethod
    def drop(cls, after: int = 0, text: str = DEFAULT_TEXT) -> ScriptedReply:
        """Close the connection mid-answer (after ``after`` streamed pieces; 0: before responding)."""
        return cls(text=text, drop_after=after)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    #: Header names in lower case.
    headers: dict[str, str]
    raw_body: bytes
    #: The JSON body, or None when it was not JSON.
    body: Any
    received_at: float
    deployment: str | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = (self.body or {}).get("messages", [])
        return messages

    @property
    def is_chat(self) -> bool:
        return self.path.endswith("/chat/completions")


class FakeOpenAIServer:
    def __init__(self, *, host: str = "127.0.0.1", models: Sequence[str] = (DEFAULT_MODEL,),
                 default_reply: ScriptedReply | None = None) -> None:
        self.host = host
        self.models = list(models)
        self.default_reply = default_reply or ScriptedReply()
        self._replies: deque[ScriptedReply] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        #: Unexpected exceptions in request handlers (connection errors a client caused are ignored).
        self.errors: list[BaseException] = []

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        if self._server is not None:
            raise RuntimeError("the fake OpenAI server is already running")
        self._server = _Server((self.host, 0), self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.stopping.set()  # wakes replies waiting out a delay
        server.shutdown()
        server.close_connections()  # wakes handlers waiting on a kept-alive connection
        server.server_close()  # closes the listening socket, joins the handler threads
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake OpenAI server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``openai.OpenAI(base_url=...)``."""
        return self.url + "/v1"

    @property
    def azure_endpoint(self) -> str:
        """For ``openai.AzureOpenAI(azure_endpoint=...)``."""
        return self.url

    # -- scripting and inspection --------------------------------------------------------------

    def queue(self, *replies: ScriptedReply | str) -> None:
        """Replies for the next requests, in order; a string is a successful answer with that text."""
        with self._lock:
            self._replies.extend(ScriptedReply(r) if isinstance(r, str) else r for r in replies)

    @property
    def pending(self) -> int:
        """Queued replies not used yet."""
        with self._lock:
            return len(self._replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.is_chat]

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self._requests.clear()
            self.errors.clear()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_reply(self) -> ScriptedReply:
        with self._lock:
            return self._replies.popleft() if self._replies else self.default_reply


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # tracked, so server_close() can join them
    block_on_close = True
    request_queue_size = 128  # socketserver's 5 drops connections when many clients start at once

    def __init__(self, address: tuple[str, int], fake: FakeOpenAIServer) -> None:
        self.fake = fake
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError | TimeoutError):
            self.fake.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked streams: a dropped stream is visible
    server: _Server
    timeout = 30  # never hold a thread forever on a client that went quiet

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read ``requests``; nothing on stderr

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client gave up (its timeout): nothing to answer

    # -- routes ------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        request = self._read_request()
        if request.path.rstrip("/").endswith("/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                    for m in self.server.fake.models]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_json(404, _error_body(404, f"Unknown path {request.path}"))

    def do_POST(self) -> None:
        request = self._read_request()
        if not request.is_chat:
            self._send_json(404, _error_body(404, f"Unknown path {request.path}"))
            return
        if request.deployment is not None and "api-version" not in request.query:
            self._send_json(404, _error_body(404, "Resource not found (api-version is required)"))
            return
        reply = self.server.fake._next_reply()
        if reply.first_byte_delay and self.server.stopping.wait(reply.first_byte_delay):
            self.close_connection = True
            return
        if reply.drop_after == 0:
            self.close_connection = True  # closes without a response
            return
        if reply.status >= 400:
            self._send_json(reply.status, _error_body(reply.status, reply.error_message), reply.headers)
        elif reply.body is not None:
            self._send(reply.status, reply.body, reply.content_type, reply.headers)
        elif isinstance(request.body, dict) and request.body.get("stream"):
            self._stream(reply, request)
        else:
            self._send_json(reply.status, _completion(reply, request), reply.headers)

    # -- plumbing ----------------------------------------------------------------------------------

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        parts = urlsplit(self.path)
        match = AZURE_PATH.match(parts.path)
        request = RecordedRequest(
            method=self.command, path=parts.path,
            query={k: v[0] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()}, raw_body=raw, body=body,
            received_at=time.monotonic(), deployment=match.group("deployment") if match else None)
        self.server.fake._record(request)
        return request

    def _send_json(self, status: int, data: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers or {})

    def _send(self, status: int, body: bytes, content_type: str, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-request-id", "req_fake")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _stream(self, reply: ScriptedReply, request: RecordedRequest) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        pieces_sent = 0
        for is_piece, payload in _events(reply, request):
            if reply.drop_after is not None and pieces_sent >= reply.drop_after:
                # Stop without the last, empty chunk: the client sees the body cut short.
                self.close_connection = True
                return
            if is_piece:
                if reply.chunk_delay and self.server.stopping.wait(reply.chunk_delay):
                    self.close_connection = True
                    return
                pieces_sent += 1
            data = f"data: {payload}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _error_body(status: int, message: str | None) -> dict[str, Any]:
    kind, code = _ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error",
                                           None))
    return {"error": {"message": message or f"Fake error {status}", "type": kind, "param": None,
                      "code": code}}


def _pieces(reply: ScriptedReply) -> list[str]:
    if reply.chunks is not None:
        return list(reply.chunks)
    return re.findall(r"\S+\s*|\s+", reply.text) or [""]


def _usage(reply: ScriptedReply, request: RecordedRequest) -> dict[str, int]:
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = sum(len(str(m.get("content", "")).split()) for m in request.messages)
    completion = reply.completion_tokens if reply.completion_tokens is not None else len(_pieces(reply))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion(reply: ScriptedReply, request: RecordedRequest) -> dict[str, Any]:
    message = {"role": "assistant", "content": None if reply.null_content else reply.text,
               "refusal": None}
    data: dict[str, Any] = {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": reply.model or (request.body or {}).get("model") or DEFAULT_MODEL,
        "choices": [] if reply.no_choices else [
            {"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}],
    }
    if reply.usage:
        data["usage"] = _usage(reply, request)
    return data


def _events(reply: ScriptedReply, request: RecordedRequest) -> Iterator[tuple[bool, str]]:
    """(is a text piece, SSE data payload) for a streamed answer, ending with ``[DONE]``."""
    if reply.events is not None:
        for payload in reply.events:
            yield True, payload
        return
    body = request.body if isinstance(request.body, dict) else {}
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": reply.model or body.get("model") or DEFAULT_MODEL}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choices = [] if reply.no_choices else [
            {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        return json.dumps({**base, "choices": choices})

    yield False, chunk({"role": "assistant", "content": ""})
    for piece in _pieces(reply):
        yield True, chunk({"content": None if reply.null_content else piece})
    yield False, chunk({}, reply.finish_reason)
    if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
        yield False, json.dumps({**base, "choices": [], "usage": _usage(reply, request)})
    yield False, "[DONE]"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (for "connection refused"): bound once, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
