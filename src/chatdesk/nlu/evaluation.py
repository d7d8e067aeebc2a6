"""Scoring a trained model on a labelled dataset."""

from __future__ import annotations

from collections.abc import Sequence

from chatdesk.nlu.data import IntentDataset
from chatdesk.nlu.features import Progress
from chatdesk.nlu.metrics import Evaluation, evaluate
from chatdesk.nlu.model import IntentModel, Prediction

# Messages predicted between two progress reports.
_CHUNK = 256


def predicted_intents(predictions: Sequence[Prediction], closed_set: bool = False) -> list[str | None]:
    """What each prediction says: its intent (``None`` when out of scope), or with ``closed_set`` its
    best-ranked label, as if every message belonged to a known intent (the usual Banking77 protocol)."""
    if closed_set:
        return [p.ranking[0][0] for p in predictions]
    return [p.intent for p in predictions]


def predict_all(model: IntentModel, texts: Sequence[str],
                progress: Progress | None = None) -> list[Prediction]:
    """``model.predict_batch`` reporting ``progress("predicting", done, total)``."""
    predictions: list[Prediction] = []
    for start in range(0, len(texts), _CHUNK):
        if progress:
            progress("predicting", start, len(texts))
        predictions.extend(model.predict_batch(list(texts[start:start + _CHUNK])))
    if progress:
        progress("predicting", len(texts), len(texts))
    return predictions


def evaluate_model(model: IntentModel, dataset: IntentDataset, oos_label: str | None = None,
                   closed_set: bool = False, progress: Progress | None = None) -> Evaluation:
    """Predict every example of ``dataset`` and score the result.

    ``oos_label`` defaults to the model's; pass one to score a model trained without out-of-scope
    examples on data that has some.
    """
    predictions = predict_all(model, dataset.texts, progress)
    return evaluate(list(dataset.labels), predicted_intents(predictions, closed_set),
                    oos_label if oos_label is not None else model.oos_label)
