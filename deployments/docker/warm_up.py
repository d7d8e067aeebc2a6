"""Run at image build time: take a throwaway instance through what the roles do at run time.

It proves the runtime environment (no torch) serves and trains, and it leaves bytecode for
exactly the modules the roles import. The root filesystem is read-only at run time, so nothing
can be compiled then, and compiling every installed module would add 200 MB to the image.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEMO = Path(os.environ["CHATDESK_DEMO_PATH"])


def chatdesk(*arguments: str) -> None:
    subprocess.run(["chatdesk", *arguments], check=True, stdout=subprocess.DEVNULL)


def ask_the_demo() -> None:
    """What a web worker imports: the app, gunicorn's gevent worker, one answered question."""
    import gunicorn.workers.ggevent  # noqa: F401

    from chatdesk.app import create_app

    client = create_app().test_client()
    conversation = client.post("/api/v1/conversations", json={}).get_json()
    response = client.post(f"/api/v1/conversations/{conversation['id']}/messages",
                           json={"text": "How long does delivery take?"},
                           headers={"Authorization": f"Bearer {conversation['token']}"})
    reply = response.get_json()["reply"]
    if response.status_code != 201 or not reply["sources"]:
        sys.exit(f"the demo did not answer with a source: {response.status_code} {reply}")
    for path in ("/readyz", "/metrics", "/", "/openapi.json"):
        status = client.get(path).status_code
        if status != 200:
            sys.exit(f"{path} answered {status}")


def main() -> None:
    chatdesk("db", "upgrade")
    chatdesk("demo")
    chatdesk("evaluate", "--data", str(DEMO / "intents_eval.csv"), "--report-dir",
             str(Path(os.environ["CHATDESK_INSTANCE_PATH"]) / "report"))
    chatdesk("--help")
    ask_the_demo()


if __name__ == "__main__":
    main()
