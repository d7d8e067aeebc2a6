"""Continuous training: a new version is trained, scored against the active one on the same held-out
examples, and served only when it is better; versions served across pods with no shared files."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import Result
from flask import Flask
from mlflow.tracking import MlflowClient

from chatdesk import create_app
from chatdesk.cli.commands import cli
from chatdesk.extensions import db
from chatdesk.services import intent_models
from chatdesk.services.runtime import current_settings
from chatdesk.store.models import IntentModelArtifact, IntentModelState
from tests.conftest import (
    ROOT,
    StaffAuth,
    fresh_postgres_database,
    make_settings,
    migrate_and_load_demo,
    open_chat,
)

DEMO = ROOT / "data" / "demo"
INTENTS = DEMO / "intents.csv"
RESPONSES = DEMO / "intents.yaml"
EVAL = DEMO / "intents_eval.csv"
# The demo's validation split is small: the weight `chatdesk demo` uses (docs/intent-model.md).
TRAIN = ["--responses", str(RESPONSES), "--oos-recall-weight", "0.3"]
PROMOTE = ["--eval", str(EVAL), "--promote-if-better"]


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args))


def serving_app(instance: Path, **settings: Any) -> Flask:
    app = create_app(make_settings(instance, **settings))
    app.extensions["chatdesk"].intents._check_interval = 0  # follow activations at once
    return app


@pytest.fixture(scope="session")
def mislabelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo intents with every other intent's examples given the next one's name (greetings
    are left alone, so that it still greets): a worse model."""
    rows = list(csv.DictReader(INTENTS.read_text(encoding="utf-8").splitlines()))
    every_other = sorted({row["intent"] for row in rows} - {"greeting"})[::2]
    shifted = dict(zip(every_other, every_other[1:] + every_other[:1], strict=True))
    path = tmp_path_factory.mktemp("data") / "mislabelled.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=["text", "intent"])
        writer.writeheader()
        writer.writerows({"text": r["text"], "intent": shifted.get(r["intent"], r["intent"])} for r in rows)
    return path


def _serving(tmp_path_factory: pytest.TempPathFactory, demo_sqlite: Path, data: Path) -> Path:
    instance = tmp_path_factory.mktemp("serving")
    shutil.copy(demo_sqlite, instance / "chatdesk.db")
    result = invoke(create_app(make_settings(instance)), "train", "--data", str(data), *TRAIN, "--activate")
    assert result.exit_code == 0, result.output
    return instance


@pytest.fixture(scope="session")
def serving_good(tmp_path_factory: pytest.TempPathFactory, demo_sqlite: Path) -> Path:
    """An instance whose active version 1 was trained on the demo intents."""
    return _serving(tmp_path_factory, demo_sqlite, INTENTS)


@pytest.fixture(scope="session")
def serving_worse(tmp_path_factory: pytest.TempPathFactory, demo_sqlite: Path, mislabelled: Path) -> Path:
    """An instance whose active version 1 was trained on mislabelled intents."""
    return _serving(tmp_path_factory, demo_sqlite, mislabelled)


@pytest.fixture
def good(serving_good: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(serving_good, tmp_path / "instance"))


@pytest.fixture
def worse(serving_worse: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(serving_worse, tmp_path / "instance"))


def active(app: Flask) -> str | None:
    with app.app_context():
        return intent_models.active_version(db.session())


def registered(app: Flask) -> list[str]:
    with app.app_context():
        return [row["version"] for row in intent_models.list_versions(current_settings())]


def mlflow_run(app: Flask, version: str) -> Any:
    """The MLflow run that made ``version``, and the version's registry record."""
    settings = app.extensions["chatdesk"].settings
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
    record = client.get_model_version(settings.intent_model_name, version)
    return client.get_run(record.run_id), record


def serves(app: Flask, version: str) -> None:
    """``app`` (a running server) serves ``version``, and its greeting template answers."""
    client = app.test_client()
    assert client.get("/readyz").get_json()["checks"]["intent_model"]["version"] == version
    reply = open_chat(client).ask("hello!")
    assert reply["answered_by"] == "intent" and reply["intent"]["name"] == "greeting"


def teach(app: Flask) -> None:
    """An admin writes a curated answer and an agent corrects a reply, both naming an intent: four
    ways of asking, one of them word for word a held-out example (so it must not be trained on)."""
    staff = StaffAuth(app)
    client = app.test_client()
    answer = {"question": "do you refund the difference if the price drops",
              "answer": "Yes, within 14 days of your order.", "intent": "price_adjustment",
              "variants": ["price went down after I bought it",
                           "the top I bought went on sale 3 days later, can you refund the price drop"]}
    assert client.post("/api/v1/answers", json=answer, headers=staff.headers("admin")).status_code == 201
    chat = open_chat(client)
    reply = chat.ask("the parcel had someone else's order in it")
    correction = {"answer": "Sorry! Reply with a photo and we'll send yours.", "intent": "wrong_item",
                  "variants": ["got a parcel meant for another person"]}
    response = client.post(f"/api/v1/messages/{reply['id']}/correction", json=correction,
                           headers=staff.headers("agent"))
    assert response.status_code == 201, response.get_json()


def test_a_better_version_is_promoted_with_what_the_bot_was_taught(worse: Path) -> None:
    app = serving_app(worse)
    serves(app, "1")
    teach(app)
    result = invoke(app, "train", "--data", str(INTENTS), *TRAIN, *PROMOTE, "--taught", "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["promoted"] and verdict["activated"]
    assert (verdict["version"], verdict["active_before"], verdict["metric"]) == ("2", "1", "accuracy")
    assert verdict["new"]["version"] == "2" and verdict["active"]["version"] == "1"
    assert verdict["new"]["accuracy"] > verdict["active"]["accuracy"] + 0.05
    assert verdict["gain"] == pytest.approx(verdict["new"]["accuracy"] - verdict["active"]["accuracy"])
    assert verdict["min_gain"] == 0 and "at least the minimum" in verdict["reason"]
    assert verdict["new"]["n_examples"] == verdict["active"]["n_examples"] == 228
    # 3 + 2 ways of asking were taught; the one that is a held-out example was left out.
    assert (verdict["taught_examples"], verdict["examples"]) == (4, 497 + 4)
    assert active(app) == "2"
    serves(app, "2")  # the running server switched, no restart

    run, record = mlflow_run(app, "2")
    assert int(run.data.params["examples"]) == 501 and "taught examples" in run.data.tags["source"]
    metrics = run.data.metrics
    assert metrics["eval_accuracy"] == pytest.approx(verdict["new"]["accuracy"])
    assert metrics["active_eval_accuracy"] == pytest.approx(verdict["active"]["accuracy"])
    assert metrics["promotion_gain"] == pytest.approx(verdict["gain"]) and metrics["promoted"] == 1
    assert run.data.tags["promotion.verdict"] == record.tags["promotion.verdict"] == "promoted"
    assert run.data.tags["promotion.active_before"] == "1"
    assert run.data.tags["promotion.reason"] == verdict["reason"]


def test_a_worse_version_is_not_promoted_and_the_active_one_still_serves(good: Path,
                                                                        mislabelled: Path) -> None:
    app = serving_app(good)
    serves(app, "1")
    result = invoke(app, "train", "--data", str(mislabelled), *TRAIN, *PROMOTE)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # as Rich wrapped it
    assert "Not promoted: version 1 stays active; version 2 is registered." in text
    assert "Why: accuracy" in text and "it is not better." in text
    assert active(app) == "1" and registered(app) == ["1", "2"]
    serves(app, "1")
    run, record = mlflow_run(app, "2")
    assert run.data.tags["promotion.verdict"] == record.tags["promotion.verdict"] == "not promoted"
    assert run.data.metrics["promoted"] == 0
    assert run.data.metrics["active_eval_accuracy"] > run.data.metrics["eval_accuracy"]
    assert run.data.metrics["promotion_gain"] < 0


def test_an_equally_good_version_is_not_promoted(good: Path) -> None:
    app = serving_app(good)
    result = invoke(app, "train", "--data", str(INTENTS), *TRAIN, *PROMOTE, "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert not verdict["promoted"] and not verdict["activated"]
    assert verdict["gain"] == 0 and verdict["new"]["accuracy"] == verdict["active"]["accuracy"]
    assert active(app) == "1"


def test_the_train_role_reads_its_settings_and_a_gain_below_the_margin_is_not_promoted(worse: Path) -> None:
    # The image's `train` role runs this very command line; the rest is CHATDESK_TRAIN_* settings.
    app = serving_app(worse, train_data=INTENTS, train_eval=EVAL, train_responses=RESPONSES,
                      train_min_gain=0.5, train_oos_recall_weight=0.3)
    result = invoke(app, "train", "--taught", "--promote-if-better", "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["min_gain"] == 0.5 and 0 < verdict["gain"] < 0.5
    assert not verdict["promoted"] and "below the minimum" in verdict["reason"]
    assert verdict["examples"] == 497 and verdict["taught_examples"] == 0
    assert verdict["new"]["n_examples"] == 228  # scored on CHATDESK_TRAIN_EVAL
    assert active(app) == "1"


@pytest.mark.parametrize(("args", "message"), [
    (["--data", str(INTENTS), "--promote-if-better"], "pass --eval"),
    (["--data", str(INTENTS), *PROMOTE, "--activate"], "cannot be used together"),
    (["--data", str(INTENTS), "--min-gain", "0.1"], "only applies with --promote-if-better"),
    ([*PROMOTE, "--min-gain", "1.5"], "1.5 is not in the range"),
    (PROMOTE, "Missing option '--data'"),
])
def test_usage_errors(good: Path, args: list[str], message: str) -> None:
    app = serving_app(good)
    result = invoke(app, "train", *args)
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert "Usage:" in result.output
    assert registered(app) == ["1"] and active(app) == "1"


def test_bad_data_exits_2_and_registers_nothing(good: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("question,label\nhi,greeting\n")
    app = serving_app(good)
    for args in (["--data", str(bad), *PROMOTE],
                 ["--data", str(INTENTS), "--eval", str(bad), "--promote-if-better"]):
        result = invoke(app, "train", *args)
        assert result.exit_code == 2 and "no column" in result.output.lower(), result.output
    assert registered(app) == ["1"] and active(app) == "1"


def test_an_active_version_that_cannot_be_scored_stops_training(good: Path) -> None:
    app = serving_app(good)
    with app.app_context():  # e.g. a trainer pointed at another MLflow than the servers
        db.session.get(IntentModelState, 1).active_version = "99"  # type: ignore[union-attr]
        db.session.commit()
    result = invoke(app, "train", "--data", str(INTENTS), *PROMOTE)
    assert result.exit_code == 1 and "active version 99 cannot be evaluated" in result.output
    assert registered(app) == ["1"] and active(app) == "99"


def test_a_version_registered_before_the_database_kept_folders_is_stored_when_activated(good: Path) -> None:
    app = serving_app(good)
    with app.app_context():  # as after `db upgrade` on an instance with older versions
        db.session.execute(sa.delete(IntentModelArtifact))
        db.session.commit()
    shutil.rmtree(good / "intent-models")
    assert invoke(app, "models", "activate", "1").exit_code == 0  # fetched from MLflow's artifacts
    with app.app_context():
        assert db.session.scalars(sa.select(IntentModelArtifact.version)).all() == ["1"]
    serves(app, "1")


@pytest.fixture
def shared_postgres() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database holding chatdesk's tables and, in the schema ``mlflow``,
    MLflow's: (database URL, tracking URI)."""
    with fresh_postgres_database() as url:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE SCHEMA mlflow"))
        engine.dispose()
        tracking = f"{url}?options=-csearch_path%3Dmlflow"
        yield url, tracking
        _close_mlflow_connections(tracking)


def _close_mlflow_connections(tracking_uri: str) -> None:
    """MLflow keeps one engine per store URI for the life of the process: close its connections
    before the database is dropped."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    for store in (TrackingStore, RegistryStore):
        engine = store._engine_map.pop(tracking_uri, None)
        if engine is not None:
            engine.dispose()


@pytest.mark.postgres
def test_a_version_trained_in_one_pod_is_served_by_another(shared_postgres: tuple[str, str],
                                                           tmp_path: Path) -> None:
    url, tracking = shared_postgres
    trainer_folder, web_folder = tmp_path / "trainer", tmp_path / "web"
    trainer = create_app(make_settings(trainer_folder, database_url=url, mlflow_tracking_uri=tracking))
    migrate_and_load_demo(trainer)
    result = invoke(trainer, "train", "--data", str(INTENTS), *TRAIN, *PROMOTE, "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["promoted"] and verdict["active_before"] is None
    assert "no active version" in verdict["reason"]
    with trainer.app_context():
        db.engine.dispose()
    shutil.rmtree(trainer_folder)  # the CronJob's pod is gone, with its files

    # The web pod serves it from the database alone: it never needs MLflow (here unreachable).
    web = serving_app(web_folder, database_url=url, mlflow_tracking_uri=f"sqlite:///{tmp_path}/none/x.db")
    serves(web, "1")
    assert [p.name for p in (web_folder / "intent-models").glob("*/v1")] == ["v1"]
    assert not (web_folder / "mlartifacts").exists() and not (tmp_path / "none").exists()
    registry = create_app(make_settings(tmp_path / "registry", database_url=url,
                                        mlflow_tracking_uri=tracking))
    with web.app_context():
        stored = db.session.scalars(sa.select(IntentModelArtifact)).one()
        assert (stored.version, stored.run_id) == ("1", mlflow_run(registry, "1")[0].info.run_id)
        assert intent_models.active_run(db.session()) == ("1", stored.run_id)
        assert 500_000 < stored.size < 5_000_000
        # MLflow's own Alembic history lives in its schema; chatdesk's is untouched by it.
        with db.engine.connect() as connection:
            ours = connection.execute(sa.text("SELECT version_num FROM public.alembic_version")).scalar()
            theirs = connection.execute(sa.text("SELECT count(*) FROM mlflow.alembic_version")).scalar()
            assert (ours, theirs) == ("0006", 1)
            assert compare_metadata(MigrationContext.configure(connection), db.metadata) == []
    with web.app_context():  # the session of the block above is closed now
        db.engine.dispose()
