"""The evaluation report: markdown, a confusion-matrix PNG readable with many intents, and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.image import imread

from chatdesk.nlu import evaluate, format_evaluation, plot_confusion, write_report


def test_the_markdown_lists_figures_pairs_and_every_intent() -> None:
    result = evaluate(["a", "a", "b", "o"], ["a", "b", "b", None], oos_label="o")
    text = format_evaluation(result)
    assert "- accuracy: 75.00%" in text
    assert "- in-scope accuracy: 66.67%" in text
    assert "- out-of-scope recall: 100.00% (1 out-of-scope examples)" in text
    assert "- a → b: 1" in text
    assert "| a | 1.000 | 0.500 | 0.667 | 2 |" in text
    assert "| o | 1.000 | 1.000 | 1.000 | 1 |" in text


def test_without_out_of_scope_the_markdown_leaves_it_out() -> None:
    text = format_evaluation(evaluate(["a", "b"], ["a", "b"]))
    assert "out-of-scope" not in text and "- none" in text


def test_the_confusion_matrix_of_eighty_intents_is_a_large_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = [f"intent_with_a_long_name_{i:02d}" for i in range(80)]
    truth = [labels[i] for i in rng.integers(0, 80, 2000)]
    predicted = [t if rng.random() < 0.9 else labels[rng.integers(0, 80)] for t in truth]
    path = plot_confusion(evaluate(truth, predicted), tmp_path / "confusion.png")
    image = imread(path)
    assert image.shape[0] > 2000 and image.shape[1] > 2000  # room for 80 readable tick labels


def test_write_report_writes_all_three(tmp_path: Path) -> None:
    files = write_report(evaluate(["a", "b", "o"], ["a", "a", None], oos_label="o"), tmp_path / "report")
    metrics = json.loads(files["metrics"].read_text())
    assert {"accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision"} <= set(metrics)
    assert metrics["oos_recall"] == 1.0
    assert files["report"].read_text().startswith("# Intent model evaluation")
    assert files["confusion"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
