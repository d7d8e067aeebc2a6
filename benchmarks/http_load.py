"""Requests per second and latency of posting a message, beside a bare Flask endpoint.

    python benchmarks/http_load.py [--seconds 20] [--connections 20] [--workers 2] [--threads 2]
                                   [--worker-class gevent|gthread] [--no-intents]

Both servers run under gunicorn on loopback with the same settings; wrk (Debian's package) is
the client, so the load generator costs little CPU. Every message has a distinct text, so the
reply cache always misses. The server has the demo knowledge base and, unless --no-intents, the
demo intent model, as `make run` serves them. Results go to benchmarks/results/http_load.json
(gevent, the default), http_load_gthread.json, and ..._no_intents.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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

from tests.support.servers import free_port, wait_ready  # noqa: E402

BENCH = ROOT / "benchmarks"
CONVERSATIONS = 6000
MESSAGES_PER_CONVERSATION = 3


def parse_wrk(output: str) -> dict[str, Any]:
    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    percentiles = {f"p{p}": ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+(\S+)$", output, re.M)}
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                              output)
    return {
        "requests": requests,
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "latency_ms": percentiles,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
    }


def run_wrk(url: str, script: Path, seconds: int, connections: int, args: list[str]) -> dict[str, Any]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
               url, "--", *args]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(output)


def prepare(instance: Path) -> tuple[Path, Path]:
    """A demo database with conversations to post into, and the question bodies."""
    from chatdesk.services import conversations

    questions = [q for q, _ in read_questions(ROOT / "data" / "demo" / "calibration.csv")]
    with demo_app() as app:
        conversation_lines = []
        for _ in range(CONVERSATIONS):
            conversation, token = conversations.create_conversation("bench")
            conversation_lines.append(f"{conversation.id} {token}")
        copy_database(app, instance)
    conversations_file = instance / "conversations.txt"
    conversations_file.write_text("\n".join(conversation_lines) + "\n")
    questions_file = instance / "questions.txt"
    questions_file.write_text("\n".join('{"text": ' + json.dumps(q)[:-1] for q in questions) + "\n")
    return conversations_file, questions_file


def server_side_latency(instance: Path, since: float) -> dict[str, float]:
    """The pipeline time each reply recorded (store first → reply built), in ms."""
    import sqlite3

    with sqlite3.connect(instance / "chatdesk.db") as connection:
        rows = [r[0] for r in connection.execute(
            "select latency_ms from messages where role in ('bot','system') and latency_ms is not null "
            "and created_at >= datetime(?, 'unixepoch')", (since,))]
        answered = dict(connection.execute(
            "select coalesce(answered_by, 'handoff'), count(*) from messages where role != 'customer' "
            "and created_at >= datetime(?, 'unixepoch') group by 1", (since,)).fetchall())
    rows.sort()
    return {"replies": len(rows), "p50": statistics.median(rows),
            "p99": rows[int(len(rows) * 0.99) - 1], "answered_by": answered}  # type: ignore[dict-item]


def breakdown(samples: int = 300) -> dict[str, float]:
    """Where one reply's time goes, measured in-process on the same data."""
    from chatdesk.engine.answer import shape_answer
    from chatdesk.services import conversations, knowledge

    questions = [q for q, _ in read_questions(ROOT / "data" / "demo" / "calibration.csv")][:samples]
    with demo_app() as app:
        index = knowledge.current_index()
        started = time.perf_counter()
        vectors = [index.embed_query(q) for q in questions]
        embed = (time.perf_counter() - started) / len(questions)
        started = time.perf_counter()
        results = [index.search(q, k=3, query_vector=v) for q, v in zip(questions, vectors, strict=True)]
        search = (time.perf_counter() - started) / len(questions)
        started = time.perf_counter()
        for result in results:
            shape_answer(result.hits[0], result.query_vector)
        shape = (time.perf_counter() - started) / len(questions)
        client = app.test_client()
        conversation, token = conversations.create_conversation("bench")
        headers = {"Authorization": f"Bearer {token}"}
        started = time.perf_counter()
        for i, question in enumerate(questions):
            if i % MESSAGES_PER_CONVERSATION == 0:
                created = client.post("/api/v1/conversations", json={}).get_json()
                headers = {"Authorization": f"Bearer {created['token']}"}
                conversation_id = created["id"]
            client.post(f"/api/v1/conversations/{conversation_id}/messages",
                        json={"text": f"{question} (x{i})"}, headers=headers)
        whole = (time.perf_counter() - started) / len(questions)
    return {"embed_query_ms": embed * 1000, "search_ms": search * 1000, "shape_answer_ms": shape * 1000,
            "whole_request_in_process_ms": whole * 1000,
            "storage_and_framework_ms": (whole - embed - search - shape) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="per worker, gthread only")
    parser.add_argument("--worker-class", choices=["gevent", "gthread"], default="gevent")
    parser.add_argument("--intents", action=argparse.BooleanOptionalAction, default=True,
                        help="serve the demo intent model too, as `make run` does (default: yes)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")
    gunicorn_flags = ["--workers", str(args.workers), "--threads", str(args.threads)]
    serve_flags = [*gunicorn_flags, "--worker-class", args.worker_class]
    result: dict[str, Any] = {"machine": machine(), "settings": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        conversations_file, questions_file = prepare(instance)
        env = server_environment(instance)
        if args.intents:
            activate_demo_intents(env)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([str(BIN / "chatdesk"), "serve", "--port", str(port), *serve_flags],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(url, server)
            lua_args = [str(conversations_file), str(questions_file), str(MESSAGES_PER_CONVERSATION), "2"]
            run_wrk(url, BENCH / "post_message.lua", 3, args.connections, lua_args)  # warm-up
            since = time.time()
            result["chatdesk"] = run_wrk(url, BENCH / "post_message.lua", args.seconds,
                                         args.connections, lua_args)
            result["chatdesk"]["server_side_ms"] = server_side_latency(instance, since)
        finally:
            server.terminate()
            server.wait(timeout=30)
        # The same gunicorn settings as `chatdesk serve` (src/chatdesk/cli/serve.py).
        bare = subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--worker-class",
                                 args.worker_class, *gunicorn_flags, "--keep-alive", "5", "--reuse-port",
                                 "--access-logfile", "-", "--chdir", str(BENCH), "bare_app:app"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready_post = f"{url}/echo"
            deadline = time.monotonic() + 30
            while subprocess.run(["curl", "-sf", "-o", "/dev/null", "-X", "POST", "-H",
                                  "Content-Type: application/json", "-d", '{"text":"x"}', wait_ready_post],
                                 check=False).returncode != 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            run_wrk(url, BENCH / "post_echo.lua", 3, args.connections, [])
            result["bare_flask"] = run_wrk(url, BENCH / "post_echo.lua", args.seconds,
                                           args.connections, [])
        finally:
            bare.terminate()
            bare.wait(timeout=30)
    result["ratio_bare_to_chatdesk_rps"] = (result["bare_flask"]["requests_per_second"]
                                            / result["chatdesk"]["requests_per_second"])
    result["breakdown_in_process"] = breakdown()
    publish("http_load", args.worker_class, args.intents, result)


if __name__ == "__main__":
    main()
