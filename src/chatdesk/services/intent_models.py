"""Intent-model versions: trained runs are logged to MLflow and registered there; the database
says which version serves, and every server process follows it without a restart.

The artifact of a version is a folder: the skops model and its metadata (``chatdesk.nlu``), and
``intents.yaml``, what each intent answers (a response template, or the article it is about). It
is kept in the database too (``intent_artifacts``), so a server loads a version without access to
the files of the process that trained it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from chatdesk.config import Settings
from chatdesk.engine.intents import IntentGuess
from chatdesk.errors import ChatdeskError, NotFound
from chatdesk.extensions import db
from chatdesk.nlu import (
    Evaluation,
    IntentDataset,
    IntentModel,
    TrainingConfig,
    TrainingReport,
    load_model,
    read_intents_csv,
    save_model,
    train_intent_model,
    write_report,
)
from chatdesk.nlu.features import Progress
from chatdesk.retrieval.embedding import Embedder
from chatdesk.services import intent_artifacts
from chatdesk.store.models import IntentModelState, utcnow

log = structlog.get_logger(__name__)

EXPERIMENT = "chatdesk-intents"
MODEL_FOLDER = "model"
REPORT_FOLDER = "evaluation"
RESPONSES_FILE = "intents.yaml"


class UnknownVersion(NotFound):
    title = "Unknown model version"


@dataclass(frozen=True)
class IntentRules:
    """What an intent answers: a fixed response, or the knowledge-base article it is about."""

    responses: dict[str, str] = field(default_factory=dict)
    articles: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> IntentRules:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ChatdeskError(f"cannot read {path}: {error}") from None
        intents = document.get("intents", {}) if isinstance(document, dict) else {}
        if not isinstance(intents, dict):
            raise ChatdeskError(f"{path}: 'intents' must map intent names to their settings")
        responses = {name: str(item["response"]) for name, item in intents.items()
                     if isinstance(item, dict) and item.get("response")}
        articles = {name: str(item["article"]) for name, item in intents.items()
                    if isinstance(item, dict) and item.get("article")}
        return cls(responses, articles)

    def write(self, path: Path) -> None:
        intents: dict[str, dict[str, str]] = {}
        for name, text in self.responses.items():
            intents.setdefault(name, {})["response"] = text
        for name, slug in self.articles.items():
            intents.setdefault(name, {})["article"] = slug
        path.write_text(yaml.safe_dump({"intents": intents}, sort_keys=True, allow_unicode=True),
                        encoding="utf-8")


@dataclass(frozen=True)
class ServingModel:
    version: str
    model: IntentModel
    rules: IntentRules


@dataclass
class TrainedVersion:
    version: str
    run_id: str
    report: TrainingReport
    evaluation: Evaluation | None


def _mlflow(settings: Settings) -> Any:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return mlflow


def _client(settings: Settings) -> Any:
    from mlflow.tracking import MlflowClient

    _mlflow(settings)
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def _experiment_id(settings: Settings) -> str:
    client = _client(settings)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return str(experiment.experiment_id)
    artifacts = settings.instance_path / "mlartifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    return str(client.create_experiment(EXPERIMENT, artifact_location=artifacts.resolve().as_uri()))


def data_fingerprint(dataset: IntentDataset, rules: IntentRules | None, embedder: Embedder) -> str:
    """The same examples, rules and embedder always give the same fingerprint (for `demo`)."""
    digest = hashlib.sha256(embedder.name.encode())
    for text, label in zip(dataset.texts, dataset.labels, strict=True):
        digest.update(f"\x1e{text}\x1f{label}".encode())
    digest.update(json.dumps([rules.responses, rules.articles] if rules else None, sort_keys=True).encode())
    return digest.hexdigest()


def train_and_register(dataset: IntentDataset, embedder: Embedder, settings: Settings, *,
                       config: TrainingConfig, rules: IntentRules | None = None,
                       evaluation_data: IntentDataset | None = None, progress: Progress | None = None,
                       ) -> TrainedVersion:
    """Train, then log the run and register a version. Nothing is registered if training fails."""
    from chatdesk.nlu import evaluate_model

    model, report = train_intent_model(dataset, embedder, config, progress)
    evaluation = (evaluate_model(model, evaluation_data, config.oos_label, progress=progress)
                  if evaluation_data is not None else None)
    mlflow = _mlflow(settings)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        save_model(model, folder / MODEL_FOLDER)
        (rules or IntentRules()).write(folder / MODEL_FOLDER / RESPONSES_FILE)
        (folder / "training.json").write_text(json.dumps(report.as_dict(), indent=2, default=str))
        with mlflow.start_run(experiment_id=_experiment_id(settings)) as run:
            mlflow.log_params(_params(config, report, dataset))
            mlflow.log_metrics(_metrics(report, evaluation))
            mlflow.set_tags({"embedder": embedder.name, "source": dataset.source,
                             "data_fingerprint": data_fingerprint(dataset, rules, embedder)})
            mlflow.log_artifacts(str(folder / MODEL_FOLDER), MODEL_FOLDER)
            mlflow.log_artifact(str(folder / "training.json"))
            if evaluation is not None:
                write_report(evaluation, folder / REPORT_FOLDER)
                mlflow.log_artifacts(str(folder / REPORT_FOLDER), REPORT_FOLDER)
        client = _client(settings)
        try:
            client.get_registered_model(settings.intent_model_name)
        except Exception:
            client.create_registered_model(settings.intent_model_name)
        version = client.create_model_version(settings.intent_model_name,
                                              f"runs:/{run.info.run_id}/{MODEL_FOLDER}", run.info.run_id)
        intent_artifacts.store(run.info.run_id, settings.intent_model_name, str(version.version),
                               folder / MODEL_FOLDER)
    return TrainedVersion(str(version.version), run.info.run_id, report, evaluation)


def _params(config: TrainingConfig, report: TrainingReport, dataset: IntentDataset) -> dict[str, Any]:
    chosen = {f"chosen_{key}": value for key, value in report.chosen.items() if not isinstance(value, dict)}
    training = {key: value for key, value in config.as_dict().items() if not isinstance(value, list | dict)}
    return {**training, **chosen, "examples": len(dataset), "intents": len(dataset.intents)}


def _metrics(report: TrainingReport, evaluation: Evaluation | None) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for key, value in report.validation.items():
        if isinstance(value, int | float) and value is not None:
            metrics[f"validation_{key}"] = float(value)
    if evaluation is not None:
        metrics.update(evaluation.figures("eval_"))
    metrics.update({f"seconds_{step}": float(s) for step, s in report.timings.items()})
    return metrics


def annotate_run(settings: Settings, version: str, run_id: str, metrics: dict[str, float],
                 tags: dict[str, str]) -> None:
    """Add figures and tags to a finished run, and the tags to its registered version too."""
    client = _client(settings)
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    for key, text in tags.items():
        client.set_tag(run_id, key, text)
        client.set_model_version_tag(settings.intent_model_name, version, key, text)


def version_trained_on(settings: Settings, fingerprint: str) -> str | None:
    """The newest version trained on exactly this data, rules and embedder, if any."""
    client = _client(settings)
    try:
        versions = client.search_model_versions(f"name='{settings.intent_model_name}'")
    except Exception:
        return None
    for version in sorted(versions, key=lambda v: -int(v.version)):
        if client.get_run(version.run_id).data.tags.get("data_fingerprint") == fingerprint:
            return str(version.version)
    return None


def list_versions(settings: Settings) -> list[dict[str, Any]]:
    client = _client(settings)
    try:
        versions = client.search_model_versions(f"name='{settings.intent_model_name}'")
    except Exception:
        return []
    active = active_version(db.session())
    rows = []
    for version in sorted(versions, key=lambda v: int(v.version)):
        run = client.get_run(version.run_id)
        created = time.gmtime(version.creation_timestamp / 1000)
        rows.append({"version": str(version.version), "active": str(version.version) == active,
                     "created": time.strftime("%Y-%m-%d %H:%M", created),
                     "source": run.data.tags.get("source", ""), "metrics": run.data.metrics,
                     "run_id": version.run_id})
    return rows


def _version_folder(settings: Settings, version: str) -> Path:
    """Where a version is kept locally; per registry, since each counts its versions from 1."""
    registry = hashlib.sha256(f"{settings.tracking_uri}|{settings.intent_model_name}".encode()).hexdigest()
    return settings.instance_path / "intent-models" / registry[:12] / f"v{version}"


def _run_id(settings: Settings, version: str) -> str:
    try:
        record = _client(settings).get_model_version(settings.intent_model_name, version)
    except Exception:
        raise UnknownVersion(f"There is no version {version!r} of {settings.intent_model_name}; "
                             "see `chatdesk models list`.", code="unknown_version") from None
    return str(record.run_id)


def fetch(settings: Settings, version: str, run_id: str | None = None) -> Path:
    """The version's artifact folder, kept in the instance's models folder once fetched: from the
    database, or for a version registered before it kept them, from MLflow's artifact store.
    Given the version's run, a server that has the folder stored never asks MLflow."""
    folder = _version_folder(settings, version)
    if (folder / "ready").exists():
        return folder
    run_id = run_id or _run_id(settings, version)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Each fetch writes its own folder, then renames it into place: two workers never mix files.
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}-") as tmp:
        partial = Path(tmp) / MODEL_FOLDER
        if not intent_artifacts.restore(run_id, partial):
            partial = Path(_mlflow(settings).artifacts.download_artifacts(
                artifact_uri=f"runs:/{run_id}/{MODEL_FOLDER}", dst_path=tmp))
        (partial / "ready").touch()
        if not (folder / "ready").exists():
            shutil.rmtree(folder, ignore_errors=True)
            try:
                partial.replace(folder)
            except OSError:
                if not (folder / "ready").exists():  # not another worker's copy: a real failure
                    raise
    return folder


def load_version(settings: Settings, version: str, embedder: Embedder,
                 run_id: str | None = None) -> ServingModel:
    folder = fetch(settings, version, run_id)
    rules_file = folder / RESPONSES_FILE
    rules = IntentRules.read(rules_file) if rules_file.exists() else IntentRules()
    return ServingModel(version, load_model(folder, embedder), rules)


def active_version(session: Session) -> str | None:
    return session.scalar(select(IntentModelState.active_version).where(IntentModelState.id == 1))


def active_run(session: Session) -> tuple[str | None, str | None]:
    """The active version and its MLflow run (None for one activated before runs were kept)."""
    row = session.execute(select(IntentModelState.active_version, IntentModelState.active_run_id)
                          .where(IntentModelState.id == 1)).one_or_none()
    return (row[0], row[1]) if row is not None else (None, None)


def activate(settings: Settings, version: str, embedder: Embedder) -> ServingModel:
    """Check the version loads here, then make it the one every server serves (and make sure the
    database has its folder, so that every server can load it)."""
    run_id = _run_id(settings, version)
    serving = load_version(settings, version, embedder, run_id)
    intent_artifacts.store(run_id, settings.intent_model_name, version, fetch(settings, version, run_id))
    state = db.session.get(IntentModelState, 1) or IntentModelState(id=1)
    state.active_version = version
    state.active_run_id = run_id
    state.activated_at = utcnow()
    db.session.add(state)
    db.session.commit()
    try:
        _client(settings).set_registered_model_alias(settings.intent_model_name, "active", version)
    except Exception as error:  # the database decides; the alias only shows it in MLflow
        log.warning("intent_models.alias_failed", error=str(error))
    return serving


class IntentModelHolder:
    """This process's copy of the active version, reloaded when another one is activated."""

    def __init__(self, check_interval: float = 2.0) -> None:
        self._serving: ServingModel | None = None
        self._failed: str | None = None
        self._lock = threading.Lock()
        self._check_interval = check_interval
        self._checked_at = float("-inf")
        self.error: str | None = None

    def current(self, session: Session, settings: Settings, embedder: Embedder) -> ServingModel | None:
        now = time.monotonic()
        if now - self._checked_at < self._check_interval:
            return self._serving
        self._checked_at = now
        version, run_id = active_run(session)
        serving = self._serving
        if version is None or (serving is not None and serving.version == version) or version == self._failed:
            return serving if version is not None else None
        with self._lock:
            if self._serving is None or self._serving.version != version:
                try:
                    self._serving = load_version(settings, version, embedder, run_id)
                    self.error = None
                    log.info("intent_model.loaded", version=version)
                except Exception as error:  # keep serving the previous version; readyz tells
                    self._failed = version
                    self.error = f"version {version}: {error}"
                    log.error("intent_model.load_failed", version=version, error=str(error))
        return self._serving

    def invalidate(self) -> None:
        self._checked_at = float("-inf")
        self._failed = None


class ServingClassifier:
    """The pipeline's view of a serving version (step 5)."""

    RANKED = 10

    def __init__(self, serving: ServingModel) -> None:
        self.version = serving.version
        self._model = serving.model
        self._articles = serving.rules.articles

    def guess(self, text: str, query_vector: Any) -> IntentGuess:
        prediction = self._model.predict_with_embeddings([text], query_vector[None, :], top_k=self.RANKED)[0]
        best, confidence = prediction.ranking[0] if prediction.ranking else (None, 0.0)
        if best == self._model.oos_label:
            best = None
        articles: dict[str, float] = {}
        for intent, probability in prediction.ranking:
            slug = self._articles.get(intent)
            if slug is not None:
                articles[slug] = articles.get(slug, 0.0) + probability
        return IntentGuess(best, confidence, prediction.out_of_scope, articles)


# The demo's validation split is tiny (a few examples per intent): a rule tuned for out-of-scope
# recall at 0.5 refuses too many real questions there (docs/intent-model.md).
DEMO_OOS_RECALL_WEIGHT = 0.3


def ensure_demo_model(settings: Settings, embedder: Embedder,
                      on_training: Callable[[int, int], None] | None = None) -> str:
    """The demo intents trained once (the same data gives the same version) and serving."""
    dataset = read_intents_csv(settings.demo_path / "intents.csv")
    rules = IntentRules.read(settings.demo_path / "intents.yaml")
    version = version_trained_on(settings, data_fingerprint(dataset, rules, embedder))
    if version is None:
        if on_training is not None:
            on_training(len(dataset), len(dataset.intents))
        version = train_and_register(dataset, embedder, settings, rules=rules,
                                     config=TrainingConfig(oos_recall_weight=DEMO_OOS_RECALL_WEIGHT)).version
    if active_version(db.session()) != version:
        activate(settings, version, embedder)
    return version
