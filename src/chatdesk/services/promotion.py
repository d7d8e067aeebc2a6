"""Continuous training: train a version, score it and the active version on the same held-out
examples, and activate the new one only when it is better (the rule: ``chatdesk.nlu.promotion``).
Either way the new run in MLflow carries both sets of figures and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, replace

from chatdesk.config import Settings
from chatdesk.errors import ChatdeskError
from chatdesk.extensions import db
from chatdesk.nlu import Evaluation, IntentDataset, IntentModelError, TrainingConfig, evaluate, predict_all
from chatdesk.nlu.evaluation import predicted_intents
from chatdesk.nlu.features import Progress
from chatdesk.nlu.promotion import PromotionVerdict, decide_promotion
from chatdesk.retrieval.embedding import Embedder
from chatdesk.services import intent_models
from chatdesk.services.intent_models import IntentRules, TrainedVersion


class ActiveVersionUnavailable(ChatdeskError):
    status = 409
    title = "The active version cannot be evaluated"


@dataclass(frozen=True)
class Promotion:
    trained: TrainedVersion
    new: Evaluation
    active_before: str | None
    active: Evaluation | None
    verdict: PromotionVerdict


def evaluate_active(settings: Settings, embedder: Embedder, data: IntentDataset, oos_label: str | None,
                    progress: Progress | None = None) -> tuple[str | None, Evaluation | None]:
    """The active version and its figures on ``data`` (None, None when no version is active)."""
    version = intent_models.active_version(db.session())
    if version is None:
        return None, None
    try:
        model = intent_models.load_version(settings, version, embedder).model
    except (ChatdeskError, IntentModelError) as error:
        detail = error.detail if isinstance(error, ChatdeskError) else str(error)
        raise ActiveVersionUnavailable(
            f"The active version {version} cannot be evaluated here ({detail}), so a new version cannot "
            "be compared with it. Check CHATDESK_MLFLOW_TRACKING_URI and the embedder settings, or "
            "activate a version that loads (`chatdesk models activate`).",
            code="active_unavailable") from None
    predictions = predict_all(model, data.texts, progress)
    # The new version's own out-of-scope label, not the active one's: the same protocol for both.
    return version, evaluate(list(data.labels), predicted_intents(predictions), oos_label)


def train_and_promote(dataset: IntentDataset, embedder: Embedder, settings: Settings, *,
                      config: TrainingConfig, evaluation_data: IntentDataset, min_gain: float = 0.0,
                      rules: IntentRules | None = None, progress: Progress | None = None) -> Promotion:
    """Train and register a version; activate it only if it beats the active one on
    ``evaluation_data`` by at least ``min_gain``. Nothing is registered if the active version
    cannot be evaluated or the data is bad."""
    before, active = evaluate_active(settings, embedder, evaluation_data, config.oos_label, progress)
    trained = intent_models.train_and_register(dataset, embedder, settings, config=config, rules=rules,
                                               evaluation_data=evaluation_data, progress=progress)
    new = trained.evaluation
    if new is None:  # train_and_register evaluates whenever it is given evaluation data
        raise RuntimeError("the new version was not evaluated")
    verdict = decide_promotion(new, active, min_gain)
    if verdict.promoted and intent_models.active_version(db.session()) != before:
        verdict = replace(verdict, promoted=False, reason="another version was activated during training; "
                          "it was not compared with this one")
    if verdict.promoted:
        intent_models.activate(settings, trained.version, embedder)
    intent_models.annotate_run(settings, trained.version, trained.run_id,
                               _comparison_metrics(active, verdict), _comparison_tags(before, verdict))
    return Promotion(trained, new, before, active, verdict)


def _comparison_metrics(active: Evaluation | None, verdict: PromotionVerdict) -> dict[str, float]:
    metrics = {"promoted": float(verdict.promoted), "promotion_min_gain": verdict.min_gain,
               "promotion_baseline": verdict.baseline}
    if verdict.gain is not None:
        metrics["promotion_gain"] = verdict.gain
    if active is not None:
        metrics.update(active.figures("active_eval_"))
    return metrics


def _comparison_tags(before: str | None, verdict: PromotionVerdict) -> dict[str, str]:
    return {"promotion.verdict": "promoted" if verdict.promoted else "not promoted",
            "promotion.metric": verdict.metric, "promotion.active_before": before or "none",
            "promotion.reason": verdict.reason}
