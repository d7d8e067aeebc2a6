"""An evaluation as people read it: a markdown summary, a confusion-matrix picture, and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from chatdesk.nlu.metrics import Evaluation

# Below this many labels every cell of the confusion matrix shows its count.
_ANNOTATED_LABELS = 25


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def format_evaluation(evaluation: Evaluation) -> str:
    """Markdown: headline figures, the most confused pairs, then precision/recall/F1 of every intent."""
    lines = [
        f"- examples: {evaluation.n_examples}",
        f"- accuracy: {_percent(evaluation.accuracy)}",
        f"- macro-F1: {_percent(evaluation.macro_f1)}",
    ]
    if evaluation.oos_label is not None:
        lines += [
            f"- in-scope accuracy: {_percent(evaluation.in_scope_accuracy)}",
            f"- out-of-scope recall: {_percent(evaluation.oos_recall)} "
            f"({evaluation.n_out_of_scope} out-of-scope examples)",
            f"- out-of-scope precision: {_percent(evaluation.oos_precision)} "
            f"({evaluation.n_predicted_out_of_scope} predicted out of scope)",
        ]
    lines += ["", "Most confused (true → predicted):", ""]
    lines += [f"- {p.true} → {p.predicted}: {p.count}" for p in evaluation.confused_pairs] or ["- none"]
    lines += ["", "| intent | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {s.intent} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.support} |"
              for s in evaluation.per_intent]
    return "\n".join(lines) + "\n"


def plot_confusion(evaluation: Evaluation, path: Path | str, title: str = "Confusion matrix") -> Path:
    """A PNG of the row-normalised confusion matrix, readable up to about 100 labels.

    A power-law colour scale keeps the rare confusions visible next to the diagonal.
    """
    # matplotlib only for the picture: a server never draws one, so it never pays for the import.
    from matplotlib.colors import PowerNorm
    from matplotlib.figure import Figure

    path = Path(path)
    labels = evaluation.labels
    counts = evaluation.confusion
    n = len(labels)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    size = max(6.0, 0.17 * n + 3.0)
    font = 8 if n <= 40 else 6
    figure = Figure(figsize=(size, size))
    axes = figure.add_subplot()
    image = axes.imshow(share, cmap="Blues", norm=PowerNorm(gamma=0.4, vmin=0.0, vmax=1.0))
    axes.set_xticks(range(n), labels, rotation=90, fontsize=font)
    axes.set_yticks(range(n), labels, fontsize=font)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"{title} (share of each true label)")
    if n <= _ANNOTATED_LABELS:
        for row, col in zip(*np.nonzero(counts), strict=True):
            axes.text(col, row, str(counts[row, col]), ha="center", va="center", fontsize=font,
                      color="white" if share[row, col] > 0.5 else "black")
    figure.colorbar(image, ax=axes, fraction=0.03, pad=0.02)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150, bbox_inches="tight")
    return path


def write_report(evaluation: Evaluation, directory: Path | str,
                 title: str = "Intent model evaluation") -> dict[str, Path]:
    """Write ``metrics.json``, ``report.md`` and ``confusion.png`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    metrics = directory / "metrics.json"
    metrics.write_text(json.dumps(evaluation.as_dict(), indent=2) + "\n", encoding="utf-8")
    report = directory / "report.md"
    report.write_text(f"# {title}\n\n" + format_evaluation(evaluation), encoding="utf-8")
    confusion = plot_confusion(evaluation, directory / "confusion.png", title)
    return {"metrics": metrics, "report": report, "confusion": confusion}
