"""The reply pipeline for one customer message; the order of the steps is the policy.

Steps 1 (store first) and 9 (record) belong to the caller, which owns the transaction.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from chatdesk.engine.answer import shape_answer
from chatdesk.engine.followup import contextual_query, normalise
from chatdesk.engine.handoff import accepts_offer, asks_for_human, escalates_after
from chatdesk.engine.messages import BotMessages
from chatdesk.engine.types import Answer, AnsweredBy, HandoffReason, Reply, Source, Turn
from chatdesk.retrieval.curated import CuratedMatch
from chatdesk.retrieval.index import Hit, SearchResult

SNIPPET_CHARS = 200


class KnowledgeSearch(Protocol):
    version: int

    def embed_query(self, query: str) -> np.ndarray: ...

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


def cache_key(question: str, kb_version: int, model_version: str, llm_fingerprint: str) -> str:
    material = "\x1f".join([normalise(question), str(kb_version), model_version, llm_fingerprint])
    return "reply:" + hashlib.sha256(material.encode()).hexdigest()


def _anchor(section: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")


def source_of(hit: Hit) -> Source:
    chunk = hit.chunk
    section = chunk.heading.split(" › ", 1)[1] if " › " in chunk.heading else ""
    url = f"{chunk.url}#{_anchor(section)}" if section else chunk.url
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
    ) -> None:
        self.knowledge = knowledge
        self.config = config
        self.cache = cache
        self.curated = curated
        self.messages = BotMessages(config.company_name)

    def reply(self, turn: Turn) -> Reply:
        if asks_for_human(turn.text) or (turn.bot_offered_human and accepts_offer(turn.text)):
            return Reply(self.messages.handoff_requested(turn.team_back_at), answered_by=None,
                         handoff=True, handoff_reason=HandoffReason.CUSTOMER_REQUEST)
        answer, cached = self.answer(turn)
        if answer.answered_by == AnsweredBy.FALLBACK and escalates_after(
            turn.previous_fallbacks, self.config.fallback_streak
        ):
            return Reply(self.messages.handoff_after_fallbacks(turn.team_back_at), AnsweredBy.FALLBACK,
                         handoff=True, handoff_reason=HandoffReason.FALLBACK_STREAK, cached=cached)
        return Reply(answer.text, answer.answered_by, answer.sources, answer.intent,
                     answer.confidence, cached=cached)

    def answer(self, turn: Turn) -> tuple[Answer, bool]:
        """The content of the reply and whether it came from the cache."""
        query, stands_alone = contextual_query(turn.text, turn.previous_questions)
        key = None
        if stands_alone and self.cache is not None:
            key = cache_key(query, self.knowledge.version, self.config.model_version,
                            self.config.llm_fingerprint)
            hit = self.cache.get(key)
            if hit is not None:
                return Answer.from_dict(hit), True
        vector = self.knowledge.embed_query(query)
        answer = self.curated_answer(vector) or self.retrieve(query, vector)
        if key is not None and self.cache is not None:
            self.cache.set(key, answer.as_dict())
        return answer, False

    def curated_answer(self, query_vector: np.ndarray) -> Answer | None:
        """Step 4: an answer staff wrote for this question (or a close paraphrase) wins."""
        match = self.curated.match(query_vector) if self.curated is not None else None
        if match is None:
            return None
        return Answer(match.entry.answer, AnsweredBy.CURATED, intent=match.entry.intent,
                      confidence=round(match.similarity, 4))

    def retrieve(self, query: str, query_vector: np.ndarray | None = None) -> Answer:
        result = self.knowledge.search(query, k=self.config.top_k, query_vector=query_vector)
        if not result.hits or result.best_score < self.config.min_score:
            return Answer(self.messages.fallback, AnsweredBy.FALLBACK)
        best = result.hits[0]
        return Answer(shape_answer(best, result.query_vector), AnsweredBy.RETRIEVAL,
                      sources=(source_of(best),))
