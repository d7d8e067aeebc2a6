"""The pipeline's decisions, on a small real index and an in-memory cache."""

from typing import Any

import pytest

from chatdesk.engine.pipeline import PipelineConfig, ReplyPipeline, cache_key
from chatdesk.engine.types import AnsweredBy, Asked, HandoffReason, Turn
from chatdesk.retrieval.index import HybridIndex
from tests.unit.kb_builder import STORE, build_index


class DictCache:
    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    def set(self, key: str, value: dict[str, Any]) -> None:
        self.data[key] = value


@pytest.fixture(scope="module")
def index() -> HybridIndex:
    return build_index(STORE)


@pytest.fixture
def cache() -> DictCache:
    return DictCache()


@pytest.fixture
def pipeline(index: HybridIndex, cache: DictCache) -> ReplyPipeline:
    return ReplyPipeline(index, PipelineConfig(company_name="Acme", min_score=0.55), cache)


def test_a_covered_question_is_answered_from_the_article_with_its_source(
        pipeline: ReplyPipeline) -> None:
    reply = pipeline.reply(Turn("how much is express delivery?"))
    assert reply.answered_by == AnsweredBy.RETRIEVAL
    assert "£5.95" in reply.text
    assert [s.id for s in reply.sources] == ["delivery"]
    assert reply.sources[0].url == "/kb/delivery#express-delivery"
    assert not reply.handoff and not reply.cached


def test_an_uncovered_question_gets_an_honest_fallback_offering_a_person(
        pipeline: ReplyPipeline) -> None:
    reply = pipeline.reply(Turn("what is the capital of peru"))
    assert reply.answered_by == AnsweredBy.FALLBACK
    assert "don't know" in reply.text and "Acme team" in reply.text
    assert reply.sources == () and not reply.handoff


def test_the_second_fallback_in_a_row_hands_off(pipeline: ReplyPipeline) -> None:
    reply = pipeline.reply(Turn("who won the world cup", previous_fallbacks=1))
    assert reply.answered_by == AnsweredBy.FALLBACK
    assert reply.handoff and reply.handoff_reason == HandoffReason.FALLBACK_STREAK


def test_an_explicit_request_hands_off_without_searching(pipeline: ReplyPipeline,
                                                         cache: DictCache) -> None:
    reply = pipeline.reply(Turn("talk to a human please"))
    assert reply.handoff and reply.handoff_reason == HandoffReason.CUSTOMER_REQUEST
    assert reply.answered_by is None
    assert cache.data == {}


def test_yes_after_the_offer_of_a_person_hands_off(pipeline: ReplyPipeline) -> None:
    assert pipeline.reply(Turn("yes please", bot_offered_human=True)).handoff
    assert not pipeline.reply(Turn("yes please", bot_offered_human=False)).handoff


def test_the_same_question_again_comes_from_the_cache(pipeline: ReplyPipeline,
                                                      cache: DictCache) -> None:
    first = pipeline.reply(Turn("How much is express delivery?"))
    second = pipeline.reply(Turn("how much is EXPRESS delivery"))
    assert not first.cached and second.cached
    assert second.text == first.text and second.sources == first.sources
    assert list(cache.data) == [cache_key("how much is express delivery", 1, "none", "none")]


def test_a_follow_up_uses_the_previous_question_and_is_not_cached(pipeline: ReplyPipeline,
                                                                  cache: DictCache) -> None:
    reply = pipeline.reply(Turn("and for express?",
                                previous_questions=(Asked("how much does delivery cost"),)))
    assert reply.sources[0].id == "delivery"
    assert cache.data == {}


def test_a_short_message_about_something_the_knowledge_base_never_mentions_is_not_a_follow_up(
        pipeline: ReplyPipeline) -> None:
    previous = (Asked("how much is express delivery?"),)
    assert pipeline.reply(Turn("is it free?", previous_questions=previous)).sources[0].id == "delivery"
    reply = pipeline.reply(Turn("is it the capital of Peru?", previous_questions=previous))
    assert reply.answered_by == AnsweredBy.FALLBACK


def test_the_cache_key_changes_with_the_kb_the_model_and_the_llm() -> None:
    base = cache_key("q", 1, "m1", "none")
    assert len({base, cache_key("q", 2, "m1", "none"), cache_key("q", 1, "m2", "none"),
                cache_key("q", 1, "m1", "gpt")}) == 4


def test_a_short_message_that_finds_nothing_alone_gets_a_second_look_with_the_question_before(
        pipeline: ReplyPipeline, cache: DictCache) -> None:
    alone = pipeline.reply(Turn("is the label free?"))
    assert alone.answered_by == AnsweredBy.FALLBACK and not alone.used_context
    cache.data.clear()
    previous = (Asked("can I return the shoes I bought?"),)
    reply = pipeline.reply(Turn("is the label free?", previous_questions=previous))
    assert reply.answered_by == AnsweredBy.RETRIEVAL and reply.used_context
    assert reply.sources[0].id == "returns" and "free label" in reply.text
    # Only the question alone (and its "don't know") may be cached: the answer depends on the
    # conversation.
    assert [v["answered_by"] for v in cache.data.values()] == [AnsweredBy.FALLBACK]
    again = pipeline.reply(Turn("is the label free?", previous_questions=previous))
    assert again.answered_by == AnsweredBy.RETRIEVAL and not again.cached


def test_a_message_with_a_word_the_knowledge_base_never_uses_gets_no_second_look(
        pipeline: ReplyPipeline) -> None:
    previous = (Asked("can I return the shoes I bought?"),)
    reply = pipeline.reply(Turn("is there a deadline?", previous_questions=previous))
    assert reply.answered_by == AnsweredBy.FALLBACK and not reply.used_context
