"""The reply pipeline for one customer message; the order of the steps is the policy.

Steps 1 (store first) and 9 (record) belong to the caller, which owns the transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from chatdesk.engine.answer import shape_answer
from chatdesk.engine.followup import contextual_query, normalise, second_look
from chatdesk.engine.handoff import accepts_offer, asks_for_human, escalates_after
from chatdesk.engine.intents import IntentClassifier, IntentGuess, IntentPolicy
from chatdesk.engine.messages import BotMessages
from chatdesk.engine.telemetry import NoTelemetry, Telemetry
from chatdesk.engine.types import Answer, AnsweredBy, Delta, HandoffReason, Reply, Source, Turn
from chatdesk.engine.writer import LLMWriter
from chatdesk.llm import LLMError
from chatdesk.retrieval.curated import CuratedMatch
from chatdesk.retrieval.index import Hit, SearchResult
from chatdesk.retrieval.parsing import slugify

SNIPPET_CHARS = 200


class KnowledgeSearch(Protocol):
    version: int

    def __len__(self) -> int: ...

    def embed_query(self, query: str) -> np.ndarray: ...

    def unknown_terms(self, text: str) -> int: ...

    def search(self, query: str, k: int = ..., query_vector: np.ndarray | None = ...) -> SearchResult: ...


class CuratedAnswers(Protocol):
    def match(self, query_vector: np.ndarray) -> CuratedMatch | None: ...


class AnswerCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class PipelineConfig:
    company_name: str
    min_score: float
    top_k: int = 3
    fallback_streak: int = 2
    model_version: str = "none"
    llm_fingerprint: str = "none"
    intents: IntentPolicy = field(default_factory=IntentPolicy)


def cache_key(question: str, kb_version: int, model_version: str, llm_fingerprint: str) -> str:
    material = "\x1f".join([normalise(question), str(kb_version), model_version, llm_fingerprint])
    return "reply:" + hashlib.sha256(material.encode()).hexdigest()


def source_of(hit: Hit) -> Source:
    chunk = hit.chunk
    url = f"{chunk.url}#{slugify(chunk.section)}" if chunk.section else chunk.url
    snippet = chunk.text if len(chunk.text) <= SNIPPET_CHARS else chunk.text[:SNIPPET_CHARS] + "…"
    return Source(id=chunk.slug, title=chunk.title, url=url, snippet=snippet,
                  score=round(hit.score, 4))


class ReplyPipeline:
    def __init__(
        self,
        knowledge: KnowledgeSearch,
        config: PipelineConfig,
        cache: AnswerCache | None = None,
        curated: CuratedAnswers | None = None,
        writer: LLMWriter | None = None,
        telemetry: Telemetry | None = None,
        intents: IntentClassifier | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.config = config
        self.cache = cache
        self.curated = curated
        self.writer = writer
        self.intents = intents
        self.telemetry = telemetry or NoTelemetry()
        self.messages = BotMessages(config.company_name)

    def reply(self, turn: Turn) -> Reply:
        """The whole reply at once."""
        *_, last = self.events(turn, stream=False)
        assert isinstance(last, Reply)
        return last

    def events(self, turn: Turn, stream: bool = True) -> Iterator[Delta | Reply]:
        """The reply as it is written: text deltas, then the finished :class:`Reply`.

        Every reply's text comes as deltas (in one piece when it was not written live), and the
        final Reply is authoritative: if a live answer failed half-way, it holds the answer that
        replaced it.
        """
        if asks_for_human(turn.text) or (turn.bot_offered_human and accepts_offer(turn.text)):
            reply = Reply(self.messages.handoff_requested(turn.team_back_at), answered_by=None,
                          handoff=True, handoff_reason=HandoffReason.CUSTOMER_REQUEST)
            yield Delta(reply.text)
            yield reply
            return
        streamed: list[str] = []
        answer, cached, used_context = yield from self._answer(turn, stream, streamed)
        reply = replace(self._policy(turn, answer, cached), used_context=used_context)
        if not streamed:
            yield Delta(reply.text)
        yield reply

    def _policy(self, turn: Turn, answer: Answer, cached: bool) -> Reply:
        """Step 8: a second "don't know" in a row hands the conversation to a person."""
        if answer.answered_by == AnsweredBy.FALLBACK and escalates_after(
            turn.previous_fallbacks, self.config.fallback_streak
        ):
            return Reply(self.messages.handoff_after_fallbacks(turn.team_back_at), AnsweredBy.FALLBACK,
                         handoff=True, handoff_reason=HandoffReason.FALLBACK_STREAK, cached=cached)
        return Reply(answer.text, answer.answered_by, answer.sources, answer.intent,
                     answer.confidence, cached=cached, prompt_tokens=answer.prompt_tokens,
                     completion_tokens=answer.completion_tokens)

    def _answer(self, turn: Turn, stream: bool,
                streamed: list[str]) -> Generator[Delta, None, tuple[Answer, bool, bool]]:
        """The answer, whether it came from the cache, and whether earlier questions were part
        of the search (step 6's follow-ups)."""
        unknown_terms = self.knowledge.unknown_terms
        query, stands_alone = contextual_query(turn.text, turn.previous_questions, unknown_terms)
        key, answer, cached = None, None, False
        if stands_alone and self.cache is not None:
            key = cache_key(query, self.knowledge.version, self.config.model_version,
                            self.config.llm_fingerprint)
            hit = self.cache.get(key)
            self.telemetry.reply_cache(hit is not None)
            if hit is not None:
                answer, cached = Answer.from_dict(hit), True
        if answer is None:
            answer = yield from self._search(turn, query, stream, streamed)
            if key is not None and self.cache is not None:
                self.cache.set(key, answer.as_dict())
        if stands_alone and answer.answered_by == AnsweredBy.FALLBACK:
            # A short message that finds nothing alone ("how long have I got?") may still be a
            # follow-up; what it finds with the earlier questions depends on the conversation,
            # so it is not cached.
            again = second_look(turn.text, turn.previous_questions, unknown_terms)
            if again is not None:
                retried = yield from self._search(turn, again, stream, streamed)
                if retried.answered_by != AnsweredBy.FALLBACK:
                    return retried, False, True
        return answer, cached, not stands_alone

    def _search(self, turn: Turn, query: str, stream: bool,
                streamed: list[str]) -> Generator[Delta, None, Answer]:
        """Steps 4-8 for one query: a curated answer, an intent's template, or the knowledge base."""
        vector = self.knowledge.embed_query(query)
        answer = self.curated_answer(vector)
        if answer is None:
            guess = self.intents.guess(query, vector) if self.intents is not None else None
            answer = self.intent_answer(guess)
            if answer is None:
                answer = yield from self._knowledge_answer(turn, query, vector, guess, stream, streamed)
        return answer

    def curated_answer(self, query_vector: np.ndarray) -> Answer | None:
        """Step 4: an answer staff wrote for this question (or a close paraphrase) wins."""
        match = self.curated.match(query_vector) if self.curated is not None else None
        if match is None:
            return None
        return Answer(match.entry.answer, AnsweredBy.CURATED, intent=match.entry.intent,
                      confidence=round(match.similarity, 4))

    def intent_answer(self, guess: IntentGuess | None) -> Answer | None:
        """Step 5: a confident intent with a response template answers with it."""
        response = self.config.intents.response_for(guess)
        if response is None or guess is None:
            return None
        return Answer(response, AnsweredBy.INTENT, intent=guess.intent,
                      confidence=round(guess.confidence, 4))

    def _knowledge_answer(self, turn: Turn, query: str, vector: np.ndarray, guess: IntentGuess | None,
                          stream: bool, streamed: list[str]) -> Generator[Delta, None, Answer]:
        """Steps 6-8: search; an LLM writes from the passages if there is one; else the best
        passage itself; "don't know" when nothing matches well enough."""
        policy = self.config.intents
        informed = policy.uses_articles(guess)
        k = max(self.config.top_k, len(self.knowledge)) if informed else self.config.top_k
        result = self.knowledge.search(query, k=k, query_vector=vector)
        hits = policy.rerank(result.hits, guess)[: self.config.top_k]
        threshold = policy.min_score if informed else self.config.min_score
        intent = guess.intent if guess is not None else None
        confidence = round(guess.confidence, 4) if guess is not None and guess.intent else None
        if not hits or hits[0].score < threshold:
            return Answer(self.messages.fallback, AnsweredBy.FALLBACK, intent=intent, confidence=confidence)
        best = hits[0]
        plain = Answer(shape_answer(best, result.query_vector), AnsweredBy.RETRIEVAL,
                       sources=(source_of(best),), intent=intent, confidence=confidence)
        if self.writer is None:
            return plain
        sources = {hit.chunk.slug: source_of(hit) for hit in hits}
        try:
            if not stream:
                written_answer = self.writer.write(turn.text, hits, turn.history, sources)
                return replace(written_answer, intent=intent, confidence=confidence)
            writing = self.writer.write_stream(turn.text, hits, turn.history, sources)
            while True:
                try:
                    piece = next(writing)
                except StopIteration as done:
                    written: Answer = done.value
                    return replace(written, intent=intent, confidence=confidence)
                streamed.append(piece)
                yield Delta(piece)
        except LLMError:
            # Timeout, 429, 5xx, refused, malformed, empty, ungrounded, circuit open: the
            # customer gets the answer without the LLM (counted by the writer).
            return plain
