"""Under gevent's monkey-patching (gunicorn's gevent workers), calls run side by side in greenlets.

Monkey-patching cannot be undone, so this runs in a child interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
from gevent import monkey
monkey.patch_all()

import json, time
import gevent
from chatdesk.llm import LLMConfig, build_provider
from tests.fakes.openai_server import FakeOpenAIServer, ScriptedReply

slow = ScriptedReply(chunks=["Parcels ", "take ", "3 days [1]."], chunk_delay=0.15)
with FakeOpenAIServer(default_reply=slow) as server:
    server.queue(ScriptedReply.error(503))  # one greenlet backs off and retries
    config = LLMConfig(base_url=server.base_url, model="m", timeout=5, backoff_base=0.1, backoff_max=0.1)
    with build_provider(config) as provider:
        def ask(i):
            return "".join(provider.stream([{"role": "user", "content": str(i)}]).text())

        provider.complete([{"role": "user", "content": "warm up"}])
        started = time.monotonic()
        jobs = [gevent.spawn(ask, i) for i in range(12)]
        gevent.joinall(jobs, raise_error=True)
        elapsed = time.monotonic() - started
print(json.dumps({"answers": [job.value for job in jobs], "elapsed": elapsed,
                  "requests": len(server.requests)}))
"""


def test_streams_run_concurrently_in_greenlets_with_retries_and_backoff() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-W", "error", "-c", SCRIPT], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert report["answers"] == ["Parcels take 3 days [1]."] * 12
    assert report["requests"] == 1 + 12 + 1  # the warm-up, twelve streams, one retry
    # One stream takes 0.45 s (0.55 s with the retry); twelve in turn would take over 5 s.
    assert report["elapsed"] < 1.5
