"""Intent model quality and speed on Banking77, with a TF-IDF baseline and out-of-scope benchmarks.

    python benchmarks/intents.py          # everything, about 10 minutes on 2 cores
    python benchmarks/intents.py --quick  # without the 15,000-example training time

Banking77 (CC BY 4.0) is read where it lies (../shared/data/banking77), never copied. Everything the
model chooses is chosen on a validation split of train.csv; test.csv is only scored. Out of scope:
10 intents (drawn with a fixed seed) are removed from training and their test messages must be
refused; once with no out-of-scope examples at all, once with 5 of the 10 given as labelled examples.
Writes benchmarks/results/intents.json and benchmarks/results/intents_confusion.png.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.svm import LinearSVC
from tqdm import tqdm

from chatdesk.nlu import (
    IntentDataset,
    IntentModel,
    TrainingConfig,
    TrainingReport,
    evaluate,
    make_dataset,
    plot_confusion,
    read_intents_csv,
    save_model,
    train_intent_model,
)
from chatdesk.nlu.calibration import expected_calibration_error
from chatdesk.nlu.evaluation import predicted_intents
from chatdesk.nlu.features import tfidf_vectorizer
from chatdesk.nlu.metrics import Evaluation
from chatdesk.nlu.outofscope import OutOfScopeRule
from chatdesk.retrieval.embedding import Embedder, get_embedder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MODELS_DIR, RESULTS, SHARED_DATA, machine, save  # noqa: E402

BANKING77 = SHARED_DATA / "banking77"
BACKEND = "onnx-int8"
OOS_LABEL = "out_of_scope"
REMOVED_INTENTS = 10
SEED = 0
LATENCY_MESSAGES = 1000
SCALE_EXAMPLES = 15_000


class StageBars:
    """A tqdm bar per training stage, for ``progress(stage, done, total)``."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar: Any = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.bar = stage, tqdm(total=total, desc=f"  {stage}", file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.stage = self.bar = None


def headline(result: Evaluation) -> dict[str, Any]:
    keys = ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision", "n_examples",
            "n_out_of_scope", "n_predicted_out_of_scope")
    return {key: value for key, value in result.as_dict().items() if key in keys}


def train(dataset: IntentDataset, embedder: Embedder,
          config: TrainingConfig | None = None) -> tuple[IntentModel, TrainingReport, float]:
    bars = StageBars()
    started = time.perf_counter()
    model, report = train_intent_model(dataset, embedder, config, progress=bars)
    bars.close()
    return model, report, time.perf_counter() - started


def baseline(training: IntentDataset, test: IntentDataset) -> dict[str, Any]:
    """TF-IDF words + characters with a LinearSVC (C=1), no search: the reference everyone quotes."""
    started = time.perf_counter()
    vectorizer = tfidf_vectorizer()
    features = vectorizer.fit_transform(training.texts)
    classifier = LinearSVC(C=1.0, max_iter=10_000).fit(features, training.labels)
    seconds = time.perf_counter() - started
    predicted = classifier.predict(vectorizer.transform(test.texts)).tolist()
    result = evaluate(list(test.labels), predicted)
    return {"model": "TF-IDF word 1-2 + char_wb 2-5 grams, LinearSVC C=1", "accuracy": result.accuracy,
            "macro_f1": result.macro_f1, "train_seconds": round(seconds, 2)}


def latency(model: IntentModel, texts: list[str], rounds: int = 3) -> dict[str, Any]:
    """Single-message prediction times over ``texts``; the quietest of ``rounds`` passes is reported,
    since other work on the machine only ever adds time."""
    for text in texts[:20]:
        model.predict(text)
    passes = []
    for _ in range(rounds):
        times = []
        for text in texts:
            started = time.perf_counter()
            model.predict(text)
            times.append(time.perf_counter() - started)
        ms = np.array(times) * 1000
        passes.append({"p50_ms": round(float(np.percentile(ms, 50)), 3),
                       "p99_ms": round(float(np.percentile(ms, 99)), 3),
                       "mean_ms": round(float(ms.mean()), 3), "load_average": round(os.getloadavg()[0], 2)})
    started = time.perf_counter()
    model.predict_batch(texts)
    batch = time.perf_counter() - started
    best = min(passes, key=lambda p: p["p50_ms"])
    return {"messages": len(texts), **best, "passes": passes,
            "batch_messages_per_second": round(len(texts) / batch, 1)}


def memory(directory: Path) -> dict[str, float]:
    """Resident memory a fresh process gains by loading the model (the embedder already loaded)."""
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from chatdesk.nlu import load_model
        from chatdesk.retrieval.embedding import get_embedder
        import skops.io
        def rss():
            return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) / 1024
        embedder = get_embedder({BACKEND!r}, Path({str(MODELS_DIR)!r}))
        embedder.embed_one('warm up')
        before = rss()
        started = time.perf_counter()
        model = load_model(Path({str(directory)!r}), embedder)
        model.predict('warm up')
        print(rss() - before, time.perf_counter() - started)
    """)
    output = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    rss_delta, load_seconds = (float(x) for x in output.split())
    return {"rss_delta_mb": round(rss_delta, 1), "load_seconds": round(load_seconds, 2)}


def state_bytes(model: IntentModel) -> int:
    state = model.state
    arrays = [state.tfidf_weights, state.embedding_weights, state.intercept, state.reference]
    return int(sum(a.nbytes for a in arrays if a is not None))


def full_data(training: IntentDataset, test: IntentDataset, embedder: Embedder) -> dict[str, Any]:
    model, report, seconds = train(training, embedder)
    predictions = model.predict_batch(list(test.texts))
    closed = evaluate(list(test.labels), predicted_intents(predictions, closed_set=True))
    served = evaluate(list(test.labels), predicted_intents(predictions))
    correct = np.array([p.ranking[0][0] == label for p, label in zip(predictions, test.labels, strict=True)])
    confidence = np.array([p.confidence for p in predictions])
    plot_confusion(closed, RESULTS / "intents_confusion.png", "Banking77 test, intent model")
    with tempfile.TemporaryDirectory() as tmp:
        directory = save_model(model, Path(tmp) / "banking77")
        artifact = {"artifact_bytes": sum(f.stat().st_size for f in directory.iterdir()),
                    "state_array_bytes": state_bytes(model), **memory(directory)}
    return {
        "accuracy": closed.accuracy,
        "macro_f1": closed.macro_f1,
        "train_seconds": round(seconds, 1),
        "served": {"note": "out-of-scope rule on: a refused message counts as wrong (the test has no "
                           "out-of-scope messages)", "accuracy": served.accuracy,
                   "refused_share": served.n_predicted_out_of_scope / served.n_examples},
        "calibration": {"test_ece": expected_calibration_error(confidence, correct),
                        "test_mean_confidence": float(confidence.mean()), **report.calibration},
        "chosen": report.chosen,
        "candidates": report.candidates,
        "out_of_scope_validation": {k: v for k, v in report.out_of_scope.items() if k != "held_out_intents"},
        "timings": report.timings,
        "latency": latency(model, list(test.texts[:LATENCY_MESSAGES])),
        "memory": artifact,
        "confused_pairs": [vars(p) for p in closed.confused_pairs],
    }


def out_of_scope(training: IntentDataset, test: IntentDataset, embedder: Embedder) -> dict[str, Any]:
    removed = sorted(random.Random(SEED).sample(training.intents, REMOVED_INTENTS))
    given, unseen = removed[:5], removed[5:]
    test_oos = test.relabel(dict.fromkeys(removed, OOS_LABEL))
    is_unseen = np.array([label in unseen for label in test.labels])
    results: dict[str, Any] = {"removed_intents": removed, "seed": SEED,
                               "test": f"all {len(test)} test messages; those of the removed intents are "
                                       f"out of scope ({int(np.sum(np.isin(test.labels, removed)))})"}

    kept = training.subset(i for i, label in enumerate(training.labels) if label not in removed)
    model, report, seconds = train(kept, embedder)
    vectors = embedder.embed(list(test_oos.texts))
    predicted = [p.intent for p in model.predict_with_embeddings(test_oos.texts, vectors)]
    result = evaluate(list(test_oos.labels), predicted, OOS_LABEL)
    results["without_labels"] = {**headline(result), "train_seconds": round(seconds, 1),
                                 "rule": report.out_of_scope["rule"],
                                 "validation": report.out_of_scope["validation"],
                                 "trade_off": trade_off(model, report, test_oos, vectors)}

    labelled = make_dataset(
        list(training.texts),
        [OOS_LABEL if label in given else label for label in training.labels])
    labelled = labelled.subset(i for i, label in enumerate(training.labels) if label not in unseen)
    model, report, seconds = train(labelled, embedder, TrainingConfig(oos_label=OOS_LABEL))
    predicted = [p.intent for p in model.predict_batch(list(test_oos.texts))]
    result = evaluate(list(test_oos.labels), predicted, OOS_LABEL)
    unseen_recall = float(np.mean([predicted[i] is None for i in np.flatnonzero(is_unseen)]))
    results["with_labels"] = {"labelled_as_out_of_scope": given, "never_seen": unseen, **headline(result),
                              "oos_recall_never_seen": unseen_recall, "train_seconds": round(seconds, 1),
                              "rule": report.out_of_scope["rule"]}
    return results


def trade_off(model: IntentModel, report: TrainingReport, test: IntentDataset,
              vectors: np.ndarray) -> list[dict[str, Any]]:
    """Test figures of the rules other recall weights make validation choose (shown, not used)."""
    keys = ("in_scope_accuracy", "oos_recall", "oos_precision")
    rows = []
    for option in report.out_of_scope["trade_off"]:
        rule = OutOfScopeRule(**option["rule"])
        variant = IntentModel(dataclasses.replace(model.state, rule=rule), model.embedder)
        predicted = [p.intent for p in variant.predict_with_embeddings(test.texts, vectors)]
        result = evaluate(list(test.labels), predicted, OOS_LABEL)
        rows.append({"recall_weight": option["recall_weight"], "rule": option["rule"],
                     "validation": {k: option[k] for k in keys},
                     "test": {k: getattr(result, k) for k in keys}})
    return rows


def scale(training: IntentDataset, test: IntentDataset, embedder: Embedder) -> dict[str, Any]:
    """Training time on 15,000 examples: train + test + repeats of train (timing only, never scored)."""
    texts = list(training.texts) + list(test.texts)
    labels = list(training.labels) + list(test.labels)
    rng = random.Random(SEED)
    extra = rng.sample(range(len(training)), SCALE_EXAMPLES - len(texts))
    texts += [training.texts[i].lower().rstrip("?.!") + " please" for i in extra]
    labels += [training.labels[i] for i in extra]
    _, report, seconds = train(make_dataset(texts, labels), embedder)
    return {"examples": len(texts), "train_seconds": round(seconds, 1), "timings": report.timings}


def say(*parts: str) -> None:
    print("".join(parts), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the 15,000-example training time")
    args = parser.parse_args()
    training = read_intents_csv(BANKING77 / "train.csv", label_column="category")
    test = read_intents_csv(BANKING77 / "test.csv", label_column="category")
    embedder = get_embedder(BACKEND, MODELS_DIR)
    say(f"Banking77: {len(training)} train, {len(test)} test, {len(training.intents)} intents; ",
        f"embedder {embedder.name}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    results: dict[str, Any] = {
        "machine": {**machine(), "load_average_at_start": os.getloadavg()},
        "command": "python benchmarks/intents.py" + (" --quick" if args.quick else ""),
        "embedder": embedder.name,
        "dataset": {"name": "Banking77", "train": len(training), "test": len(test),
                    "intents": len(training.intents)},
    }

    base = results["baseline"] = baseline(training, test)
    say(f"baseline  {base['model']}: accuracy {base['accuracy']:.4f}, macro-F1 {base['macro_f1']:.4f}, ",
        f"trained in {base['train_seconds']} s")

    full = results["intent_model"] = full_data(training, test, embedder)
    say(f"model     {full['chosen']['features']}, C={full['chosen']['c']}: accuracy {full['accuracy']:.4f}, ",
        f"macro-F1 {full['macro_f1']:.4f}, trained in {full['train_seconds']} s")
    say(f"          with the out-of-scope rule on: accuracy {full['served']['accuracy']:.4f} ",
        f"({100 * full['served']['refused_share']:.1f}% refused); ",
        f"test ECE {full['calibration']['test_ece']:.4f}")
    say(f"          predict p50 {full['latency']['p50_ms']} ms, p99 {full['latency']['p99_ms']} ms; ",
        f"artifact {full['memory']['artifact_bytes'] / 1e6:.1f} MB, ",
        f"RSS +{full['memory']['rss_delta_mb']} MB on loading")

    oos = results["out_of_scope"] = out_of_scope(training, test, embedder)
    say(f"out of scope: removed {', '.join(oos['removed_intents'])}")
    for name in ("without_labels", "with_labels"):
        part = oos[name]
        say(f"  {name}: in-scope accuracy {part['in_scope_accuracy']:.4f}, ",
            f"OOS recall {part['oos_recall']:.4f}, OOS precision {part['oos_precision']:.4f}, ",
            f"accuracy {part['accuracy']:.4f}")
    say(f"  with_labels, recall on the 5 never seen: {oos['with_labels']['oos_recall_never_seen']:.4f}")
    for row in oos["without_labels"]["trade_off"]:
        figures = row["test"]
        say(f"  recall weight {row['recall_weight']}: in-scope accuracy {figures['in_scope_accuracy']:.4f}, ",
            f"OOS recall {figures['oos_recall']:.4f}, OOS precision {figures['oos_precision']:.4f}")

    if not args.quick:
        results["training_15k"] = scale(training, test, embedder)
        say(f"15,000 examples trained in {results['training_15k']['train_seconds']} s")
    results["machine"]["load_average_at_end"] = os.getloadavg()
    say(f"wrote {save('intents', results)}")


if __name__ == "__main__":
    main()
