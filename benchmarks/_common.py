"""Shared set-up for the benchmark scripts: a throw-away instance with the demo knowledge base."""

from __future__ import annotations

import csv
import json
import platform
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"
BIN = Path(sys.executable).parent
MODELS_DIR = ROOT / "instance" / "models"


def read_questions(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["question"], row["slug"]) for row in csv.DictReader(handle)]


def read_sections(path: Path) -> list[set[str]] | None:
    """Each question's labelled answer sections (`A | B`; "(intro)" for an article's opening),
    or None when the file has no `sections` column."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "sections" not in rows[0]:
        return None
    return [set(row["sections"].split(" | ")) for row in rows]


def read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@contextmanager
def demo_app(**overrides: Any) -> Iterator[Any]:
    """An app on a fresh SQLite file with the demo knowledge base loaded, inside an app context."""
    from flask_migrate import upgrade

    from chatdesk import Settings, create_app
    from chatdesk.services import knowledge
    from chatdesk.services.runtime import current_runtime

    with tempfile.TemporaryDirectory() as tmp:
        overrides.setdefault("models_dir", MODELS_DIR)
        overrides.setdefault("message_rate_limit", "")  # measuring, not flooding
        overrides.setdefault("conversation_rate_limit", "")
        settings = Settings(instance_path=Path(tmp), log_level="WARNING", **overrides)
        app = create_app(settings)
        with app.app_context():
            upgrade()
            files, _ = knowledge.collect_files([settings.demo_path / "kb"])
            knowledge.ingest_files(files, current_runtime().embedder())
            yield app


def copy_database(app: Any, instance: Path) -> None:
    """The demo app's SQLite file, closed, into a server's instance folder."""
    import shutil

    from chatdesk.extensions import db

    db.session.remove()
    db.engine.dispose()
    shutil.copy(Path(app.instance_path) / "chatdesk.db", instance / "chatdesk.db")


def server_environment(instance: Path, **settings: str) -> dict[str, str]:
    import os

    from tests.support.servers import NO_CUSTOMER_LIMITS  # a load test is not a flood to stop

    return {**os.environ, "CHATDESK_INSTANCE_PATH": str(instance), "CHATDESK_LOG_LEVEL": "WARNING",
            "CHATDESK_MODELS_DIR": str(MODELS_DIR), **NO_CUSTOMER_LIMITS, **settings}


def activate_demo_intents(env: dict[str, str]) -> None:
    """Train and activate the demo intent model in the instance, exactly as `make run` does."""
    import subprocess

    subprocess.run([str(BIN / "chatdesk"), "demo"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def machine() -> dict[str, Any]:
    import os

    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpus": os.cpu_count(), "when": datetime.now(UTC).isoformat(timespec="seconds")}


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def publish(name: str, worker_class: str, intents: bool, result: dict[str, Any]) -> None:
    """Save a serving benchmark's result as name[_gthread][_no_intents].json and print it."""
    if worker_class != "gevent":
        name = f"{name}_{worker_class}"
    path = save(name if intents else f"{name}_no_intents", result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    print(f"saved {path.relative_to(ROOT)}")
