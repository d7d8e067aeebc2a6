"""Training, evaluating, registering and activating intent models, through the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

from chatdesk import create_app
from chatdesk.cli.commands import cli
from chatdesk.extensions import db
from chatdesk.services import intent_models
from tests.conftest import ROOT, make_settings, open_chat

DEMO = ROOT / "data" / "demo"
INTENTS = DEMO / "intents.csv"
RESPONSES = DEMO / "intents.yaml"
EVAL = DEMO / "intents_eval.csv"


@pytest.fixture(scope="session")
def trained_instance(tmp_path_factory: pytest.TempPathFactory, demo_sqlite: Path) -> Path:
    """A demo instance with one registered, active version of the demo intents (trained once)."""
    instance = tmp_path_factory.mktemp("intents")
    shutil.copy(demo_sqlite, instance / "chatdesk.db")
    app = create_app(make_settings(instance))
    result = invoke(app, "train", "--data", str(INTENTS), "--responses", str(RESPONSES),
                    "--oos-recall-weight", "0.3", "--activate", "--json")
    assert result.exit_code == 0, result.output
    return instance


@pytest.fixture
def instance(trained_instance: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "instance"
    shutil.copytree(trained_instance, copy)
    return copy


@pytest.fixture
def app(instance: Path) -> Iterator[Flask]:
    application = create_app(make_settings(instance))
    application.extensions["chatdesk"].intents._check_interval = 0  # follow activations at once
    yield application


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args))


def versions(app: Flask) -> list[dict]:  # type: ignore[type-arg]
    result = invoke(app, "models", "list", "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict] = json.loads(result.stdout)  # type: ignore[type-arg]
    return rows


def test_training_registers_a_version_with_its_evaluation(app: Flask) -> None:
    result = invoke(app, "train", "--data", str(INTENTS), "--eval", str(EVAL), "--json")
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout)
    assert trained["version"] == "2" and not trained["activated"]
    figures = trained["evaluation"]
    assert {"accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision"} <= set(figures)
    assert 0 < figures["accuracy"] <= 1 and figures["oos_recall"] is None
    listed = {row["version"]: row for row in versions(app)}
    assert listed["1"]["active"] and not listed["2"]["active"]
    assert listed["2"]["metrics"]["eval_accuracy"] == pytest.approx(figures["accuracy"])
    assert "validation_accuracy" in listed["2"]["metrics"]


def test_the_active_model_answers_and_readyz_names_it(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/readyz").get_json()["checks"]["intent_model"]["version"] == "1"
    reply = open_chat(client).ask("hello!")
    assert reply["answered_by"] == "intent" and reply["intent"]["name"] == "greeting"
    assert reply["text"].startswith("Hi!")
    question = open_chat(client).ask("How long do refunds take to reach my card?")
    assert question["answered_by"] == "retrieval" and question["intent"]["name"] == "refund_status"


def test_a_running_server_picks_up_a_newly_activated_version(app: Flask, instance: Path) -> None:
    client = app.test_client()
    assert open_chat(client).ask("hi there")["answered_by"] == "intent"
    # Another process (the CLI) trains version 2 without a greeting template, and activates it.
    other = create_app(make_settings(instance))
    plain = instance / "no-greeting.yaml"
    plain.write_text("intents: {}\n")
    trained = invoke(other, "train", "--data", str(INTENTS), "--responses", str(plain), "--json")
    assert trained.exit_code == 0, trained.output
    assert invoke(other, "models", "activate", "2").exit_code == 0
    assert client.get("/readyz").get_json()["checks"]["intent_model"]["version"] == "2"
    assert open_chat(client).ask("hi there")["answered_by"] != "intent"  # no restart needed


def test_evaluate_writes_a_report(app: Flask, tmp_path: Path) -> None:
    report = tmp_path / "report"
    result = invoke(app, "evaluate", "--data", str(EVAL), "--report-dir", str(report), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["version"] == "1" and figures["n_examples"] == 228
    assert {p.name for p in report.iterdir()} == {"metrics.json", "report.md", "confusion.png"}
    assert (report / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = invoke(app, "evaluate", "--data", str(EVAL), "--model", "1")
    assert "macro" in text.output.lower()


@pytest.mark.parametrize(("content", "message"), [
    (b"words,label\nhello,greeting\n", "no column"),
    (b"", "empty"),
    (b"text,intent\nhello,greeting\nhi,greeting\n", "intent"),
    (b"text,intent\n\xff\xfe hello,greeting\nbye,goodbye\n", "UTF-8"),
    (b"text,intent\n", "no examples"),
])
def test_bad_training_data_is_refused_and_changes_nothing(app: Flask, tmp_path: Path, content: bytes,
                                                          message: str) -> None:
    data = tmp_path / "bad.csv"
    data.write_bytes(content)
    before = versions(app)
    result = invoke(app, "train", "--data", str(data), "--activate")
    assert result.exit_code == 2, result.output
    assert message.lower() in result.output.lower()
    assert versions(app) == before
    with app.app_context():
        assert intent_models.active_version(db.session()) == "1"


def test_unknown_versions_are_refused(app: Flask) -> None:
    for args in (["evaluate", "--data", str(EVAL), "--model", "99"], ["models", "activate", "99"]):
        result = invoke(app, *args)
        assert result.exit_code == 2 and "no version '99'" in result.output
    with app.app_context():
        assert intent_models.active_version(db.session()) == "1"


def test_a_missing_eval_column_is_refused_before_training(app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "eval.csv"
    bad.write_text("question,label\nhi,greeting\n")
    before = versions(app)
    result = invoke(app, "train", "--data", str(INTENTS), "--eval", str(bad))
    assert result.exit_code == 2 and versions(app) == before


def test_the_artifact_loads_only_trusted_types(app: Flask, instance: Path) -> None:
    (folder,) = (instance / "intent-models").glob("*/v1")
    metadata = json.loads((folder / "metadata.json").read_text())
    assert set(metadata["trusted_types"]) == {"builtins.dict", "builtins.list", "builtins.str",
                                              "numpy.ndarray"}


@pytest.mark.slow
def test_the_dvc_pipeline_runs_offline(instance: Path, tmp_path: Path) -> None:
    work = tmp_path / "pipeline"
    work.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, work / name)
    (work / "data" / "demo").mkdir(parents=True)
    for path in (INTENTS, RESPONSES, EVAL):
        shutil.copy(path, work / "data" / "demo" / path.name)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "CHATDESK_INSTANCE_PATH": str(instance), "CHATDESK_LOG_LEVEL": "WARNING",
           "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    subprocess.run([str(bin_dir / "dvc"), "init", "-q"], cwd=work, env=env, check=True)
    run = subprocess.run([str(bin_dir / "dvc"), "repro"], cwd=work, env=env, capture_output=True,
                         text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    metrics = json.loads((work / "pipeline" / "metrics.json").read_text())
    assert metrics["version"] == "2" and 0 < metrics["accuracy"] <= 1
    trained = json.loads((work / "pipeline" / "train.json").read_text())  # the same data as version 1
    assert (trained["promoted"], trained["active_before"], trained["gain"]) == (False, "1", 0)
    assert (work / "pipeline" / "evaluation" / "confusion.png").exists()
    assert json.loads((work / "pipeline" / "export.json").read_text())["conversations"] >= 0
