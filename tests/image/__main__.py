"""The container image, run as Kubernetes runs it: ``python -m tests.image --image NAME``.

Against the running PostgreSQL (a fresh database) and Redis: `migrate` twice at once, `demo`,
`web` (time to ready, a cited answer over HTTP, a clean stop on SIGTERM), `train`; and what the
image promises: a non-root user, no torch, no pip, nothing written outside /tmp and the instance
folder. Prints the figures and writes them to benchmarks/results/image.json; exits 1 when a
promise is broken.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import Request, urlopen

import sqlalchemy as sa

from tests.image.container import IMAGE_UID, Container, image_size, stop
from tests.support.postgres import new_database
from tests.support.servers import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "image.json"
POSTGRES_URL = os.environ.get("CHATDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHATDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
SIZE_AIM_MB = 700
READY_AIM_SECONDS = 5.0


class Checks:
    """Each promise of the image, kept or broken, with what was seen."""

    def __init__(self) -> None:
        self.results: list[tuple[str, bool, str]] = []
        self.figures: dict[str, Any] = {}

    def check(self, name: str, ok: bool, seen: str = "") -> bool:
        self.results.append((name, ok, seen))
        print(f"{'ok  ' if ok else 'FAIL'} {name}{f': {seen}' if seen else ''}", flush=True)
        return ok

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.results)


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new database, with a schema for MLflow's registry beside chatdesk's tables."""
    with new_database(POSTGRES_URL, prefix="chatdesk_image") as url:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE SCHEMA mlflow"))
        engine.dispose()
        yield url


def flush_redis() -> None:
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    connection.close()


def http(method: str, url: str, body: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = Request(url, data=data, method=method,
                      headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except URLError as error:
        status = getattr(error, "code", 0)
        return status, {"error": str(error)}


Run = subprocess.CompletedProcess[str]


def timed(run: Callable[[], Run]) -> tuple[Run, float]:
    started = time.monotonic()
    result = run()
    return result, time.monotonic() - started


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def check_image(image: str, checks: Checks, folder: Path) -> None:
    size = image_size(image)
    checks.figures["image_size_mb"] = round(size / 1e6)
    checks.check("image size", size > 0, f"{size / 1e6:.0f} MB (aim: under {SIZE_AIM_MB} MB)")
    box = Container(image, folder)
    try:
        with fresh_database() as database:
            flush_redis()
            run_roles(box, database, checks)
        written = box.written_outside()
        checks.check("writes only to /tmp and the instance folder", not written,
                     ", ".join(written[:10]) or "nothing else")
    finally:
        box.remove()
        flush_redis()


def settings(database: str, port: int) -> dict[str, str]:
    """Production settings, as the production overlay gives them. Each run has an instance
    folder of its own, so the web pods serve the model version the demo registered from the
    database alone, as pods on other nodes would."""
    return {"CHATDESK_DATABASE_URL": database, "CHATDESK_REDIS_URL": REDIS_URL,
            "CHATDESK_MLFLOW_TRACKING_URI": f"{database}?options=-csearch_path%3Dmlflow",
            "CHATDESK_TRAIN_DATA": "/opt/chatdesk/demo/intents.csv",
            "CHATDESK_TRAIN_EVAL": "/opt/chatdesk/demo/intents_eval.csv",
            "CHATDESK_TRAIN_RESPONSES": "/opt/chatdesk/demo/intents.yaml",
            "CHATDESK_TRAIN_OOS_RECALL_WEIGHT": "0.3",
            "CHATDESK_SECRET_KEY": "image-test-" + uuid.uuid4().hex * 2,
            "CHATDESK_BIND_HOST": "127.0.0.1", "CHATDESK_PORT": str(port), "CHATDESK_WORKERS": "2",
            "CHATDESK_LOG_LEVEL": "WARNING", "CHATDESK_TRUSTED_PROXIES": "1"}


def run_roles(box: Container, database: str, checks: Checks) -> None:
    port = free_port()
    env = settings(database, port)
    check_what_is_inside(box, env, checks)

    with ThreadPoolExecutor(2) as pool:
        migrations = list(pool.map(lambda _: box.role("migrate", env), range(2)))
    checks.check("migrate twice at once: both succeed", all(m.returncode == 0 for m in migrations),
                 " | ".join(tail(m.stderr + m.stdout, 3) for m in migrations if m.returncode))
    again = box.role("migrate", env)
    current = again.returncode == 0 and "Running upgrade" not in again.stderr
    checks.check("migrate again: nothing to do", current, "" if current else tail(again.stderr, 3))

    demo, seconds = timed(lambda: box.role("demo", env))
    checks.figures["demo_seconds"] = round(seconds, 1)
    checks.check("demo loads the demo knowledge base", demo.returncode == 0,
                 f"{seconds:.1f} s" if demo.returncode == 0 else tail(demo.stderr))

    for pod in ("first", "second"):
        serve(box, env, f"http://127.0.0.1:{port}", pod, checks)

    train, seconds = timed(lambda: box.role("train", env, timeout=900))
    checks.figures["train_seconds"] = round(seconds, 1)
    verdict = last_json(train.stdout)
    seen = (f"{seconds:.0f} s, promoted: {verdict.get('promoted')} ({verdict.get('reason')})"
            if train.returncode == 0 else tail(train.stderr + train.stdout))
    checks.check("train retrains and gives a verdict", train.returncode == 0 and "promoted" in verdict, seen)


def check_what_is_inside(box: Container, env: dict[str, str], checks: Checks) -> None:
    who = box.run(["id", "-u"], env)
    checks.check("runs as a non-root user", who.stdout.strip() == str(IMAGE_UID), who.stdout.strip())
    torch = box.run(["python3", "-c", "import torch"], env)
    checks.check("import torch fails inside",
                 torch.returncode != 0 and "No module named 'torch'" in torch.stderr, tail(torch.stderr, 1))
    found = box.run(["sh", "-c", "command -v pip pip3 gcc cc; python3 -m pip --version; true"], env)
    tools = found.stdout.strip()
    checks.check("no pip and no compiler", not tools, tools.replace("\n", ", ") or "none found")


def last_json(output: str) -> dict[str, Any]:
    try:
        value = json.loads(output)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def serve(box: Container, env: dict[str, str], url: str, pod: str, checks: Checks) -> None:
    """A web pod (a fresh instance folder) from start to ready, a question, then SIGTERM."""
    log = f"web-{pod}.log"
    web = box.start("web", env, log)
    try:
        try:
            ready: float | None = wait_ready(url, web, timeout=120)
        except RuntimeError:
            ready = None
        checks.figures[f"ready_seconds_{pod}_pod"] = round(ready, 2) if ready is not None else None
        seen = (f"{ready:.2f} s from start to /readyz 200 (aim: at most {READY_AIM_SECONDS:.0f} s)"
                if ready is not None else tail((box.logs / log).read_text(errors="replace")))
        if checks.check(f"{pod} web pod becomes ready", ready is not None, seen):
            ask(url, checks)
    finally:
        started = time.monotonic()
        code = stop(web, timeout=40)
        checks.check(f"{pod} web pod stops cleanly on SIGTERM", code == 0,
                     f"exit {code} after {time.monotonic() - started:.1f} s")


def ask(url: str, checks: Checks) -> None:
    status, conversation = http("POST", f"{url}/api/v1/conversations", {})
    if not checks.check("a conversation starts", status == 201, str(status)):
        return
    status, body = http("POST", f"{url}/api/v1/conversations/{conversation['id']}/messages",
                        {"text": "How long does delivery to Canada take?"},
                        {"Authorization": f"Bearer {conversation['token']}",
                         "Idempotency-Key": uuid.uuid4().hex})
    reply = body.get("reply") or {}
    sources = [source.get("url") for source in reply.get("sources", [])]
    answered = status == 201 and bool(sources) and bool(reply.get("text"))
    checks.check("a question gets a cited answer", answered,
                 f"{reply.get('answered_by')} from {', '.join(map(str, sources))}")
    with urlopen(f"{url}/metrics", timeout=10) as response:
        checks.check("/metrics answers", response.status == 200)


def save(image: str, checks: Checks) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "measured": datetime.now(UTC).isoformat(timespec="seconds"), "image": image,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "figures": checks.figures,
        "checks": [{"check": name, "ok": ok, "seen": seen} for name, ok, seen in checks.results],
    }, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.image", description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="localhost/chatdesk:dev")
    parser.add_argument("--keep", action="store_true", help="Keep the logs folder even when all is well.")
    options = parser.parse_args()
    if shutil.which("buildah") is None:
        sys.exit("buildah is not installed: `make image-tools` (Debian's buildah, podman, mmdebstrap)")
    folder = Path(tempfile.mkdtemp(prefix="chatdesk-image-"))
    checks = Checks()
    try:
        check_image(options.image, checks, folder)
    finally:
        save(options.image, checks)
        print(f"\nFigures: {json.dumps(checks.figures)}  (saved to {RESULTS.relative_to(ROOT)})")
        if checks.passed and not options.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"Logs: {folder / 'logs'}")
    sys.exit(0 if checks.passed else 1)


if __name__ == "__main__":
    main()
