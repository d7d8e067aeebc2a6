"""Training on the demo intents: what it chooses and predicts, out of scope with and without labels."""

from __future__ import annotations

import time

import numpy as np
import pytest

from chatdesk.nlu import (
    IntentDataError,
    IntentDataset,
    IntentModel,
    TrainingConfig,
    TrainingReport,
    evaluate_model,
    make_dataset,
    train_intent_model,
)
from chatdesk.nlu.features import FeatureSpec
from chatdesk.retrieval.embedding import Embedder
from tests.unit.nlu.conftest import OUT_OF_SCOPE_UNSEEN

IN_SCOPE = {  # paraphrases written for these tests, not in the demo intents
    "hey, good morning": "greeting",
    "cheers, that sorted it": "thanks",
    "ok that's all, see ya": "goodbye",
    "let me talk to someone real please": "human_agent",
    "I want to send my jumper back": "start_return",
    "when does my order get here": "shipping_times",
    "my discount code is not accepted": "promo_code",
    "the shoes came with a big scratch": "damaged_item",
    "can I use apple pay": "payment_methods",
    "do you ship to australia": "international_shipping",
}


def test_the_demo_trains_in_seconds_and_reports_its_choices(embedder: Embedder,
                                                            demo_intents: IntentDataset) -> None:
    stages: dict[str, list[tuple[int, int]]] = {}
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        stages.setdefault(stage, []).append((done, total))

    model, report = train_intent_model(demo_intents, embedder, progress=progress)
    assert time.perf_counter() - started < 20
    assert list(stages) == ["embedding", "choosing a model", "out-of-scope calibration", "final fit"]
    for steps in stages.values():
        assert steps[0][0] == 0 and steps[-1][0] == steps[-1][1]
        assert [done for done, _ in steps] == sorted(done for done, _ in steps)
    assert len(report.candidates) == 15
    best = max(report.candidates, key=lambda c: c["macro_f1"])
    assert report.chosen["features"] in {c["features"] for c in report.candidates}
    assert next(c for c in report.candidates if c["features"] == report.chosen["features"]
                and c["c"] == report.chosen["c"])["macro_f1"] == best["macro_f1"]
    assert report.calibration["nll_after"] < report.calibration["nll_before"]
    assert report.out_of_scope["mode"] == "held-out intents"
    assert len(report.out_of_scope["held_out_intents"]) == 3
    assert report.counts == {"examples": 497, "intents": 40, "out_of_scope_examples": 0, "train": 417,
                             "validation": 80}
    assert report.validation["accuracy"] > 0.5 and report.validation["in_scope_accuracy"] is None
    assert set(report.timings) >= {"embedding", "choosing a model", "calibration", "final fit", "total"}
    assert model.embedder_name == embedder.name == "all-MiniLM-L6-v2-int8"
    assert model.metadata["training"]["validation_fraction"] == 0.15
    assert model.metadata["report"]["chosen"] == report.chosen


def test_known_paraphrases_get_their_intent(demo_model: IntentModel) -> None:
    predictions = {text: demo_model.predict(text) for text in IN_SCOPE}
    right = [text for text, p in predictions.items() if p.intent == IN_SCOPE[text]]
    top3 = [text for text, p in predictions.items() if IN_SCOPE[text] in dict(p.ranking[:3])]
    assert len(right) >= 7, {t: (p.intent, p.ranking[:2]) for t, p in predictions.items()}
    assert len(top3) >= 9


def test_unrelated_messages_are_out_of_scope_without_labelled_examples(demo_model: IntentModel) -> None:
    predictions = [demo_model.predict(text) for text in OUT_OF_SCOPE_UNSEEN]
    refused = [p for p in predictions if p.out_of_scope]
    assert len(refused) >= 5
    assert all(p.intent is None for p in refused)
    assert demo_model.oos_label is None


def test_a_prediction_is_a_calibrated_ranking(demo_model: IntentModel) -> None:
    prediction = demo_model.predict("hello there", top_k=3)
    assert prediction.intent == "greeting" and not prediction.out_of_scope
    assert len(prediction.ranking) == 3
    probabilities = [p for _, p in prediction.ranking]
    assert probabilities == sorted(probabilities, reverse=True)
    assert prediction.confidence == probabilities[0] and 0.5 < prediction.confidence <= 1.0
    assert sum(probabilities) <= 1.0 + 1e-9
    assert len(demo_model.predict("hello", top_k=100).ranking) == 40


def test_batch_and_single_predictions_agree(demo_model: IntentModel) -> None:
    texts = list(IN_SCOPE) + OUT_OF_SCOPE_UNSEEN
    batch = demo_model.predict_batch(texts)
    for text, together in zip(texts, batch, strict=True):
        alone = demo_model.predict(text)
        assert (alone.intent, alone.out_of_scope) == (together.intent, together.out_of_scope)
        assert alone.confidence == pytest.approx(together.confidence, abs=1e-5)


def test_labelled_out_of_scope_examples_are_used(
        labelled_oos_training: tuple[IntentModel, TrainingReport]) -> None:
    model, report = labelled_oos_training
    assert model.oos_label == "out_of_scope"
    assert "out_of_scope" in model.labels and "out_of_scope" not in model.intents
    assert report.out_of_scope["mode"] == "labelled + held-out intents"
    assert report.counts["out_of_scope_examples"] == 16
    assert report.validation["oos_recall"] is not None
    refused = [model.predict(text) for text in OUT_OF_SCOPE_UNSEEN]
    assert sum(p.out_of_scope for p in refused) >= 5
    assert all(p.intent is None for p in refused if p.out_of_scope)
    assert model.predict("hi there").intent == "greeting"


def test_evaluation_with_out_of_scope_examples(
        labelled_oos_training: tuple[IntentModel, TrainingReport]) -> None:
    model, _ = labelled_oos_training
    texts = list(IN_SCOPE) + OUT_OF_SCOPE_UNSEEN
    labels = list(IN_SCOPE.values()) + ["out_of_scope"] * len(OUT_OF_SCOPE_UNSEEN)
    result = evaluate_model(model, make_dataset(texts, labels))
    assert result.oos_label == "out_of_scope" and result.n_out_of_scope == 6
    assert result.oos_recall is not None and result.oos_recall >= 5 / 6
    assert result.in_scope_accuracy is not None and result.in_scope_accuracy >= 0.6
    closed = evaluate_model(model, make_dataset(texts, labels), closed_set=True)
    assert closed.n_predicted_out_of_scope <= result.n_predicted_out_of_scope


def test_an_out_of_scope_label_absent_from_the_data_is_refused(embedder: Embedder,
                                                               demo_intents: IntentDataset) -> None:
    with pytest.raises(IntentDataError, match="no example is labelled 'out_of_scope'"):
        train_intent_model(demo_intents, embedder, TrainingConfig(oos_label="out_of_scope"))


def test_one_intent_besides_out_of_scope_is_refused(embedder: Embedder) -> None:
    data = make_dataset(["hi", "hello", "weather?", "football?"], ["greeting", "greeting", "oos", "oos"])
    with pytest.raises(IntentDataError, match="1 intent besides the out-of-scope label"):
        train_intent_model(data, embedder, TrainingConfig(oos_label="oos"))


def test_too_few_examples_for_validation_is_refused(embedder: Embedder) -> None:
    with pytest.raises(IntentDataError, match="at least 2 examples"):
        train_intent_model(make_dataset(["hi", "bye"], ["greeting", "goodbye"]), embedder)


def test_two_intents_train_but_cannot_calibrate_out_of_scope(embedder: Embedder,
                                                             demo_intents: IntentDataset) -> None:
    rows = [i for i, label in enumerate(demo_intents.labels) if label in {"greeting", "goodbye"}]
    model, report = train_intent_model(demo_intents.subset(rows), embedder,
                                       TrainingConfig(c_values=(1.0,)))
    assert report.out_of_scope["mode"] == "disabled" and len(report.warnings) == 2
    assert model.state.rule.threshold is None
    assert model.predict("hello, anyone there?").intent == "greeting"
    assert model.predict("bye, talk later").intent == "goodbye"
    assert model.predict("hello").ranking[0][1] > 0.5


def test_the_feature_grid_and_the_refit_are_configurable(embedder: Embedder,
                                                        demo_intents: IntentDataset) -> None:
    config = TrainingConfig(feature_sets=(FeatureSpec(tfidf=False, embedding_weight=1.0),), c_values=(1.0,),
                            refit=False, pseudo_oos_rounds=1)
    model, report = train_intent_model(demo_intents, embedder, config)
    assert [c["features"] for c in report.candidates] == ["embedding×1"]
    assert model.state.vectorizer is None and model.state.tfidf_weights is None
    assert len(model.state.reference) == report.counts["train"]  # no refit: the training part only
    assert "final fit" not in report.timings
    assert len(report.out_of_scope["held_out_intents"]) == 1
    assert model.predict("hello there").intent == "greeting"


def test_training_is_repeatable(embedder: Embedder, demo_intents: IntentDataset,
                                demo_model: IntentModel) -> None:
    again, _ = train_intent_model(demo_intents, embedder)
    texts = list(IN_SCOPE)
    first = np.array([p.confidence for p in demo_model.predict_batch(texts)])
    second = np.array([p.confidence for p in again.predict_batch(texts)])
    assert np.allclose(first, second, atol=1e-6)
    assert again.state.rule.similarity_weight == demo_model.state.rule.similarity_weight
    assert again.state.rule.threshold == pytest.approx(demo_model.state.rule.threshold, abs=1e-4)
