"""Streaming with an LLM: the time chatdesk adds before the first byte, and how many
concurrent streaming conversations one server process holds.

    python benchmarks/llm_streaming.py [--worker-class gevent|gthread] [--threads N]
                                       [--requests 100] [--concurrency 200] [--answer-seconds 2]
                                       [--no-intents]

The LLM is the fake OpenAI-compatible server of the tests (tests/fakes), on loopback, answering
after a fixed delay. ``chatdesk serve --workers 1`` serves the demo knowledge base from SQLite and,
unless --no-intents, the demo intent model, as `make run` does. Results go to
benchmarks/results/llm_streaming.json (gevent), llm_streaming_gthread.json, ..._no_intents.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import (  # noqa: E402
    BIN,
    ROOT,
    activate_demo_intents,
    copy_database,
    demo_app,
    machine,
    publish,
    read_questions,
    server_environment,
)

from tests.fakes.openai_server import FakeOpenAIServer, ScriptedReply  # noqa: E402
from tests.support.servers import free_port, wait_ready  # noqa: E402

ANSWER = ("Standard delivery takes two to four working days and costs £3.95 [1]. Orders over £50 "
          "ship free [1]. Express delivery arrives the next working day [1].")
# Streamed as its first (cited) sentence, then word by word: chatdesk shows text once its first
# citation has arrived, so a first piece that carries one measures chatdesk's own delay alone.
FIRST, REST = ANSWER.split("[1]. ", 1)
PIECES = [FIRST + "[1]. ", *[w + " " for w in REST.split(" ")]]
CHUNK_DELAY = 0.005


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


class Client:
    """One customer: opens a conversation, then posts messages and reads the streamed reply."""

    def __init__(self, port: int) -> None:
        self.port = port
        created = self._call("POST", "/api/v1/conversations", {}, {})
        self.id, self.token = created["id"], created["token"]

    def _call(self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        connection.request(method, path, json.dumps(body), {"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        data = json.loads(response.read())
        connection.close()
        return data

    def ask(self, text: str) -> dict[str, Any]:
        """Post, stream the reply; returns the first-delta time and the reply."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        started = time.perf_counter()
        connection.request("POST", f"/api/v1/conversations/{self.id}/messages", json.dumps({"text": text}),
                           {"Content-Type": "application/json", "Accept": "text/event-stream",
                            "Authorization": f"Bearer {self.token}"})
        response = connection.getresponse()
        if response.status != 201:
            raise RuntimeError(f"status {response.status}")
        first_delta = None
        event = None
        reply = None
        for raw in response:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "delta" and first_delta is None:
                first_delta = time.perf_counter() - started
            elif line.startswith("data: ") and event == "reply":
                reply = json.loads(line[6:])["reply"]
        connection.close()
        if reply is None:
            raise RuntimeError("no reply event")
        return {"first_delta": first_delta, "total": time.perf_counter() - started, "reply": reply}


def serve(instance: Path, fake: FakeOpenAIServer,
          args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = server_environment(instance, CHATDESK_LLM_BASE_URL=fake.base_url, CHATDESK_LLM_MODEL="fake-model",
                             CHATDESK_LLM_TIMEOUT="30", CHATDESK_REPLY_CACHE_TTL="0")
    command = [str(BIN / "chatdesk"), "serve", "--port", str(port), "--workers", "1",
               "--worker-class", args.worker_class, "--threads", str(args.threads),
               "--connections", str(max(1000, args.concurrency * 2))]
    if args.intents:
        activate_demo_intents(env)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(f"http://127.0.0.1:{port}", process)
    return process, port


def first_byte_overhead(port: int, fake: FakeOpenAIServer, requests: int, llm_delay: float,
                        questions: list[str]) -> dict[str, Any]:
    """Sequential requests: chatdesk's first delta minus the LLM's own first token."""
    client = Client(port)
    overheads: list[float] = []
    not_llm = 0
    for n in range(requests):
        fake.queue(ScriptedReply(ANSWER, chunks=PIECES, first_byte_delay=llm_delay,
                                 chunk_delay=CHUNK_DELAY))
        result = client.ask(f"{questions[n % len(questions)]} (ref {n})")
        if result["reply"]["answered_by"] != "llm":
            not_llm += 1  # "don't know": nothing good enough to give the LLM, so no LLM call
        else:
            # The LLM's own first token comes llm_delay + one piece's delay after its request.
            overheads.append((result["first_delta"] - llm_delay - CHUNK_DELAY) * 1000)
        if n % 20 == 19:
            client = Client(port)  # a fresh conversation now and then (no handoffs, short history)
    return {"requests": requests, "answered_without_llm": not_llm,
            "llm_first_token_ms": (llm_delay + CHUNK_DELAY) * 1000,
            "added_ms_p50": round(statistics.median(overheads), 2),
            "added_ms_p90": round(percentile(overheads, 0.9), 2),
            "added_ms_p99": round(percentile(overheads, 0.99), 2)}


def concurrency(port: int, fake: FakeOpenAIServer, clients: int, answer_seconds: float,
                questions: list[str]) -> dict[str, Any]:
    """``clients`` customers ask at once; each LLM answer takes ``answer_seconds``."""
    per_chunk = (answer_seconds - 0.5) / len(PIECES)
    fake.default_reply = ScriptedReply(ANSWER, chunks=PIECES, first_byte_delay=0.5, chunk_delay=per_chunk)
    customers = [Client(port) for _ in range(clients)]
    results: list[dict[str, Any] | None] = [None] * clients
    errors: list[str] = []
    barrier = threading.Barrier(clients)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = customers[i].ask(f"{questions[i % len(questions)]} (c{i})")
        except Exception as error:
            errors.append(repr(error))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    wall = time.perf_counter() - started
    done = [r for r in results if r is not None]
    answered_by = Counter(str(r["reply"]["answered_by"]) for r in done)
    totals = [r["total"] for r in done]
    firsts = [r["first_delta"] for r in done if r["first_delta"] is not None]
    return {"concurrent_conversations": clients, "llm_seconds_per_answer": answer_seconds,
            "completed": len(done), "errors": len(errors), "error_examples": errors[:3],
            "answered_by": dict(answered_by), "wall_seconds": round(wall, 2),
            "first_delta_s_p50": round(statistics.median(firsts), 3) if firsts else None,
            "first_delta_s_max": round(max(firsts), 3) if firsts else None,
            "reply_s_p50": round(statistics.median(totals), 3) if totals else None,
            "reply_s_max": round(max(totals), 3) if totals else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-class", choices=["gevent", "gthread"], default="gevent")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--llm-delay", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--answer-seconds", type=float, default=2.0)
    parser.add_argument("--intents", action=argparse.BooleanOptionalAction, default=True,
                        help="serve the demo intent model too, as `make run` does (default: yes)")
    args = parser.parse_args()
    questions = [q for q, _ in read_questions(ROOT / "tests" / "data" / "paraphrases.csv")
                 if "deliver" in q.lower() or "post" in q.lower() or "ship" in q.lower()]
    result: dict[str, Any] = {"machine": machine(), "settings": vars(args)}
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer() as fake:
        instance = Path(tmp)
        with demo_app() as app:
            copy_database(app, instance)
        process, port = serve(instance, fake, args)
        try:
            result["first_byte"] = first_byte_overhead(port, fake, args.requests, args.llm_delay, questions)
            result["concurrency"] = concurrency(port, fake, args.concurrency, args.answer_seconds, questions)
        finally:
            process.terminate()
            process.wait(timeout=60)
    publish("llm_streaming", args.worker_class, args.intents, result)


if __name__ == "__main__":
    main()
