"""Retrieval quality on the demo knowledge base, and calibration of the hybrid ranking.

    python benchmarks/retrieval.py              # hit@1, hit@3 and "don't know" on tests/data
    python benchmarks/retrieval.py --calibrate  # also choose the ranking and thresholds on
                                                # data/demo/calibration* (never on tests/data)

Both with retrieval alone and with the demo intent model's belief added (engine/intents.py).
Then, for the questions answered from the right article, whether the answer quotes the section
that answers (the questions' `sections` column): with the best section alone, and with the
runner-up section quoted too when it scores within the passage margin.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from chatdesk.engine.answer import is_bullet, shape_answer
from chatdesk.retrieval.index import HybridIndex, IndexedChunk, Ranking

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, demo_app, machine, read_lines, read_questions, read_sections, save  # noqa: E402

TEST_QUESTIONS = ROOT / "tests" / "data" / "paraphrases.csv"
TEST_OUT_OF_SCOPE = ROOT / "tests" / "data" / "out_of_scope.txt"
CALIBRATION_QUESTIONS = ROOT / "data" / "demo" / "calibration.csv"
CALIBRATION_OUT_OF_SCOPE = ROOT / "data" / "demo" / "calibration_out_of_scope.txt"

WEIGHTS = [0.0, 0.1, 0.2, 0.3, 0.5]
SATURATIONS = [1.0, 2.0, 4.0, 8.0]
DOCUMENT_WEIGHTS = [0.0, 0.25, 0.5, 0.75, 1.0]
THRESHOLDS = np.round(np.arange(0.20, 0.95, 0.005), 3)
PASSAGE_MARGINS = [0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.15, 0.20]
#: A wider margin is worth it while at least this share of the second sections it adds carry the
#: answer the first one missed.
PASSAGE_YIELD = 0.25


@dataclass
class QuestionSet:
    questions: list[str]
    vectors: np.ndarray
    expected: list[str | None]  # None: out of scope
    sections: list[set[str]] | None  # the labelled answer sections of the in-scope questions


def ranked(index: HybridIndex, qs: QuestionSet, ranking: Ranking) -> tuple[list[list[str]], np.ndarray]:
    """Top-3 article slugs and the top score for each question."""
    slugs: list[list[str]] = []
    best = np.zeros(len(qs.questions))
    for row, (question, vector) in enumerate(zip(qs.questions, qs.vectors, strict=True)):
        scores = index.chunk_scores(question, vector, ranking)
        top = index.rank_documents(scores.combined, vector, 3, ranking)
        slugs.append([index.chunks[i].slug for i, _ in top])
        best[row] = top[0][1]
    return slugs, best


def metrics(index: HybridIndex, qs: QuestionSet, ranking: Ranking, threshold: float) -> dict[str, float]:
    slugs, best = ranked(index, qs, ranking)
    inside = np.array([e is not None for e in qs.expected])
    hit1 = np.array([e is not None and s[0] == e for s, e in zip(slugs, qs.expected, strict=True)])
    hit3 = np.array([e is not None and e in s for s, e in zip(slugs, qs.expected, strict=True)])
    mrr = np.array([1 / (s.index(e) + 1) if e in s else 0.0
                    for s, e in zip(slugs, qs.expected, strict=True)])
    answered = best >= threshold
    correct = (hit1 & answered)[inside].mean()
    rejected = (~answered)[~inside].mean()
    return {
        "hit@1": float(hit1[inside].mean()),
        "hit@3": float(hit3[inside].mean()),
        "mrr@3": float(mrr[inside].mean()),
        "answered_correctly": float(correct),
        "answered_wrongly": float((~hit1 & answered)[inside].mean()),
        "false_dont_know": float((~answered)[inside].mean()),
        "out_of_scope_fallback": float(rejected),
        "balanced": float((correct + rejected) / 2),
    }


def calibrate(index: HybridIndex, qs: QuestionSet) -> tuple[Ranking, float]:
    """The ranking with the best mean reciprocal rank (smoother than hit@1 on a small set), then
    the threshold in the middle of the best plateau of
    (in-scope answered correctly + out-of-scope refused) / 2."""
    def quality(ranking: Ranking) -> tuple[float, float]:
        m = metrics(index, qs, ranking, -9.0)
        return round(m["mrr@3"], 4), round(m["hit@1"], 4)

    grid = [Ranking(w, c, d) for w, c, d in itertools.product(WEIGHTS, SATURATIONS, DOCUMENT_WEIGHTS)]
    ranking = max(grid, key=quality)
    balanced = [metrics(index, qs, ranking, t)["balanced"] for t in THRESHOLDS]
    top = max(balanced)
    plateau = [t for t, b in zip(THRESHOLDS, balanced, strict=True) if b >= top - 1e-9]
    return ranking, float(np.round(np.median(plateau), 3))


INTENT_WEIGHTS = [0.05, 0.1, 0.2, 0.3, 0.4]


def with_intents(index: HybridIndex, qs: QuestionSet, beliefs: list[dict[str, float]], weight: float,
                 threshold: float) -> dict[str, float]:
    """The same figures when the intent model's belief joins the score (engine/intents.py)."""
    from chatdesk.engine.intents import IntentGuess, IntentPolicy

    policy = IntentPolicy(article_weight=weight, min_score=threshold)
    tops: list[str | None] = []
    for question, vector, belief in zip(qs.questions, qs.vectors, beliefs, strict=True):
        hits = policy.rerank(index.search(question, k=len(index), query_vector=vector).hits,
                             IntentGuess(None, 0.0, False, belief))
        tops.append(hits[0].chunk.slug if hits and hits[0].score >= threshold else None)
    inside = [e is not None for e in qs.expected]
    n_in = sum(inside)
    right = sum(1 for t, e in zip(tops, qs.expected, strict=True) if e is not None and t == e)
    wrong = sum(1 for t, e in zip(tops, qs.expected, strict=True) if e is not None and t not in (None, e))
    refused = sum(1 for t, e in zip(tops, qs.expected, strict=True) if e is None and t is None)
    n_out = len(tops) - n_in
    return {"answered_correctly": right / n_in, "answered_wrongly": wrong / n_in,
            "false_dont_know": (n_in - right - wrong) / n_in, "out_of_scope_fallback": refused / n_out,
            "balanced": (right / n_in + refused / n_out) / 2}


def demo_beliefs(qs: QuestionSet) -> list[dict[str, float]]:
    """The demo intent model's belief about each question's article (trained here, as by `demo`)."""
    from chatdesk.services import intent_models
    from chatdesk.services.runtime import current_runtime, current_settings

    settings = current_settings()
    embedder = current_runtime().embedder()
    version = intent_models.ensure_demo_model(settings, embedder)
    serving = intent_models.load_version(settings, version, embedder)
    classifier = intent_models.ServingClassifier(serving)
    return [dict(classifier.guess(q, v).articles) for q, v in zip(qs.questions, qs.vectors, strict=True)]


def calibrate_intents(index: HybridIndex, qs: QuestionSet,
                      beliefs: list[dict[str, float]]) -> tuple[float, float]:
    best: tuple[float, float, float] | None = None
    for weight in INTENT_WEIGHTS:
        scores = [(t, with_intents(index, qs, beliefs, weight, t)["balanced"]) for t in THRESHOLDS]
        top = max(score for _, score in scores)
        plateau = [t for t, score in scores if score >= top - 1e-9]
        threshold = float(np.round(np.median(plateau), 3))
        if best is None or top > best[0] + 1e-9:
            best = (top, weight, threshold)
    assert best is not None
    return best[1], best[2]


def passages(index: HybridIndex, qs: QuestionSet, beliefs: list[dict[str, float]],
             policy_weight: float, threshold: float, margin: float) -> dict[str, float]:
    """Over the questions answered from the right article (as the pipeline ranks, with intents):
    how often the best section is a labelled one, how often the answer quotes one when the
    runner-up within ``margin`` may be quoted too, and how many answers quote two sections."""
    from chatdesk.engine.intents import IntentGuess, IntentPolicy

    assert qs.sections is not None
    policy = IntentPolicy(article_weight=policy_weight, min_score=threshold)
    ranking = replace(index.ranking, passage_margin=margin)
    first, either, two = [], [], []
    for question, vector, belief, expected, sections in zip(
            qs.questions, qs.vectors, beliefs, qs.expected, qs.sections, strict=False):
        hits = policy.rerank(index.search(question, k=len(index), query_vector=vector).hits,
                             IntentGuess(None, 0.0, False, belief))
        if not hits or hits[0].score < threshold or hits[0].chunk.slug != expected:
            continue
        best = hits[0].chunk
        combined = index.chunk_scores(question, vector).combined
        second = index.runner_up(combined, index.chunks.index(best), ranking)
        also = None if second is None else index.chunks[second]
        text = shape_answer(replace(hits[0], also=also), vector)
        quoted = [c for c in (best, also) if c is not None and quotes(text, c)]
        first.append((best.section or "(intro)") in sections)
        either.append(any((c.section or "(intro)") in sections for c in quoted))
        two.append(len(quoted) == 2)
    return {"answered_from_right_article": len(first), "best_section_right": float(np.mean(first)),
            "answer_quotes_right_section": float(np.mean(either)), "two_sections": float(np.mean(two))}


def quotes(text: str, chunk: IndexedChunk) -> bool:
    """Whether an answer quotes a sentence (or list item) of ``chunk``."""
    return any((unit[2:] if is_bullet(unit) else unit) in text for unit in chunk.sentences)


def calibrate_margin(index: HybridIndex, qs: QuestionSet, beliefs: list[dict[str, float]],
                     weight: float, threshold: float) -> tuple[float, list[dict[str, float]]]:
    """The widest margin up to which each widening still pays: of the second sections it adds,
    at least PASSAGE_YIELD carry the answer the best section missed."""
    table = [{"margin": m, **passages(index, qs, beliefs, weight, threshold, m)} for m in PASSAGE_MARGINS]
    chosen = table[0]
    for row in table[1:]:
        added = row["two_sections"] - chosen["two_sections"]
        gained = row["answer_quotes_right_section"] - chosen["answer_quotes_right_section"]
        if added <= 0 or gained / added < PASSAGE_YIELD:
            break
        chosen = row
    return chosen["margin"], table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args()

    from chatdesk.services import knowledge
    from chatdesk.services.runtime import current_settings

    with demo_app():
        index = knowledge.current_index()
        settings = current_settings()

        def load(questions_path: Path, oos_path: Path) -> QuestionSet:
            pairs = read_questions(questions_path)
            oos = read_lines(oos_path)
            questions = [q for q, _ in pairs] + oos
            return QuestionSet(questions, index.embedder.embed(questions),
                               [s for _, s in pairs] + [None] * len(oos), read_sections(questions_path))

        test = load(TEST_QUESTIONS, TEST_OUT_OF_SCOPE)
        ranking, threshold = index.ranking, settings.retrieval_min_score
        result: dict[str, object] = {"machine": machine(), "chunks": len(index),
                                     "articles": len({c.slug for c in index.chunks})}
        if args.calibrate:
            calibration = load(CALIBRATION_QUESTIONS, CALIBRATION_OUT_OF_SCOPE)
            ranking, threshold = calibrate(index, calibration)
            result["calibration_set"] = metrics(index, calibration, ranking, threshold)
        result["settings"] = {"retrieval_lexical_weight": ranking.lexical_weight,
                              "retrieval_lexical_saturation": ranking.lexical_saturation,
                              "retrieval_document_weight": ranking.document_weight,
                              "retrieval_min_score": threshold}
        result["test_set"] = metrics(index, test, ranking, threshold)
        result["test_set_dense_only"] = metrics(index, test, Ranking(0.0, 1.0, 0.0), threshold)
        index.ranking = ranking  # type: ignore[misc]  (score with the chosen ranking from here on)
        weight, intent_threshold = settings.intent_article_weight, settings.intent_min_score
        test_beliefs = demo_beliefs(test)
        if args.calibrate:
            calibration_beliefs = demo_beliefs(calibration)
            weight, intent_threshold = calibrate_intents(index, calibration, calibration_beliefs)
            result["calibration_set_with_intents"] = with_intents(index, calibration, calibration_beliefs,
                                                                  weight, intent_threshold)
        result["settings"].update({"intent_article_weight": weight,  # type: ignore[attr-defined]
                                   "intent_min_score": intent_threshold})
        result["test_set_with_intents"] = with_intents(index, test, test_beliefs, weight, intent_threshold)
        margin = settings.retrieval_passage_margin
        if args.calibrate and calibration.sections is not None:  # questions without sections: kept
            margin, result["calibration_set_passages"] = calibrate_margin(  # type: ignore[assignment]
                index, calibration, calibration_beliefs, weight, intent_threshold)
        result["settings"]["retrieval_passage_margin"] = margin  # type: ignore[index]
        if test.sections is not None:
            result["test_set_passages"] = {
                "best_section_only": passages(index, test, test_beliefs, weight, intent_threshold, 0.0),
                "with_runner_up": passages(index, test, test_beliefs, weight, intent_threshold, margin)}
        result["sizes"] = {"test_questions": sum(e is not None for e in test.expected),
                           "test_out_of_scope": sum(e is None for e in test.expected)}
    path = save("retrieval", result)
    for name in ("settings", "calibration_set", "calibration_set_with_intents", "calibration_set_passages",
                 "test_set", "test_set_with_intents", "test_set_dense_only", "test_set_passages", "sizes"):
        if name in result:
            print(f"{name:22s} {result[name]}")
    print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
