import numpy as np
import pytest

from chatdesk.retrieval.index import HybridIndex, Ranking
from chatdesk.retrieval.lexical import tokenize
from tests.unit.kb_builder import STORE, build_index


@pytest.fixture(scope="module")
def index() -> HybridIndex:
    return build_index(STORE)


@pytest.mark.parametrize(("question", "slug"), [
    ("how many days until my parcel turns up", "delivery"),
    ("can I send back a jumper I don't want", "returns"),
    ("which cards can I pay with", "payments"),
    ("at what point is my card charged", "payments"),
])
def test_the_right_article_ranks_first(index: HybridIndex, question: str, slug: str) -> None:
    result = index.search(question, k=3)
    assert result.hits[0].chunk.slug == slug
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)


def test_one_hit_per_article(index: HybridIndex) -> None:
    slugs = [h.chunk.slug for h in index.search("delivery", k=5).hits]
    assert sorted(slugs) == sorted(set(slugs)) == sorted(STORE)


def test_an_unrelated_question_scores_far_below_a_related_one(index: HybridIndex) -> None:
    related = index.search("how long does standard delivery take").best_score
    unrelated = index.search("what is the capital of peru").best_score
    assert related - unrelated > 0.3


def test_lexical_evidence_is_bounded_and_weighted(index: HybridIndex) -> None:
    vector = index.embed_query("express delivery")
    plain = index.chunk_scores("express delivery", vector, Ranking(0.0, 8.0, 0.0))
    weighted = index.chunk_scores("express delivery", vector, Ranking(0.5, 8.0, 0.0))
    assert np.all(plain.lexical >= 0) and np.all(plain.lexical < 1)
    assert np.allclose(weighted.combined, plain.dense + 0.5 * plain.lexical)


def test_an_article_gains_by_what_it_is_about_as_a_whole(index: HybridIndex) -> None:
    vector = index.embed_query("delivery")
    scores = index.chunk_scores("delivery", vector)
    alone = dict(index.rank_documents(scores.combined, vector, 3, Ranking(0.5, 8.0, 0.0)))
    helped = dict(index.rank_documents(scores.combined, vector, 3, Ranking(0.5, 8.0, 0.5)))
    gains = {chunk: helped[chunk] - alone[chunk] for chunk in alone}
    delivery = next(c for c in gains if index.chunks[c].slug == "delivery")
    assert gains[delivery] == max(gains.values()) > 0


def test_an_empty_index_finds_nothing() -> None:
    result = build_index({}).search("anything")
    assert result.hits == [] and result.best_score == float("-inf")


def test_tokens_are_stemmed_without_stop_words() -> None:
    assert tokenize("The parcels are delivered") == ["parcel", "deliv"]


def test_a_close_second_section_of_the_article_comes_along_within_the_margin() -> None:
    margin = Ranking(0.5, 8.0, 0.25, passage_margin=0.2)
    index = build_index(STORE, ranking=margin)
    question = "how much does delivery cost"
    hit = index.search(question, k=1).hits[0]
    assert hit.chunk.slug == "delivery"
    assert hit.also is not None and hit.also.slug == "delivery" and hit.also != hit.chunk
    scores = index.chunk_scores(question, index.embed_query(question)).combined
    best, second = (index.chunks.index(c) for c in (hit.chunk, hit.also))
    assert scores[best] - margin.passage_margin <= scores[second] <= scores[best]
    assert build_index(STORE).search(question, k=1).hits[0].also is None  # margin 0: never
    one_section = build_index({"returns": STORE["returns"].split("## How")[0]}, ranking=margin)
    assert one_section.search("returns window", k=1).hits[0].also is None


def test_words_the_knowledge_base_never_uses_are_counted(index: HybridIndex) -> None:
    assert index.unknown_terms("express delivery costs?") == 0
    assert index.unknown_terms("the capital of Peru") == 2
    assert build_index({}).unknown_terms("delivery") == 1
