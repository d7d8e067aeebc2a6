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


def read_questions(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["question"], row["slug"]) for row in csv.DictReader(handle)]


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
        overrides.setdefault("models_dir", ROOT / "instance" / "models")
        settings = Settings(instance_path=Path(tmp), log_level="WARNING", **overrides)
        app = create_app(settings)
        with app.app_context():
            upgrade()
            files, _ = knowledge.collect_files([settings.demo_path / "kb"])
            knowledge.ingest_files(files, current_runtime().embedder())
            yield app


def machine() -> dict[str, Any]:
    import os

    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpus": os.cpu_count(), "when": datetime.now(UTC).isoformat(timespec="seconds")}


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
