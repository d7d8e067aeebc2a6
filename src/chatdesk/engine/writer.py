"""Step 7 with an LLM: a grounded answer written from the retrieved passages, cited.

An answer is only shown if it cites the passages it was given (and nothing else). Streamed, the
text is held back until its first valid citation has arrived, so an uncited answer never
reaches the customer; a later failure is replaced by the answer without the LLM, which the
final ``reply`` event carries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from chatdesk.engine.guard import redact_pii
from chatdesk.engine.telemetry import Telemetry
from chatdesk.engine.types import Answer, AnsweredBy, Source
from chatdesk.llm import (
    Completion,
    GroundedPrompt,
    HistoryTurn,
    MarkerStripper,
    Passage,
    PromptConfig,
    Provider,
    StreamDone,
    TextDelta,
    UngroundedAnswer,
    build_prompt,
    check_citations,
    ground,
)
from chatdesk.retrieval.index import Hit

HISTORY_ROLES = {"customer", "bot", "agent"}
T = TypeVar("T")


def passages_of(hits: Sequence[Hit]) -> list[Passage]:
    """Each hit's passage, followed by its article's close runner-up section when it has one."""
    chunks = [chunk for hit in hits for chunk in (hit.chunk, hit.also) if chunk is not None]
    return [Passage(source_id=c.slug, title=c.title, text=c.text, section=c.section, url=c.url)
            for c in chunks]


@dataclass(frozen=True)
class WriterConfig:
    prompt: PromptConfig
    passages: int
    timeout: float


class LLMWriter:
    def __init__(self, provider: Provider, config: WriterConfig, telemetry: Telemetry) -> None:
        self.provider = provider
        self.config = config
        self.telemetry = telemetry

    def _prompt(self, question: str, hits: Sequence[Hit],
                history: Sequence[tuple[str, str]]) -> GroundedPrompt:
        # The customer's emails and phone numbers stay with us: the LLM sees placeholders.
        turns = [HistoryTurn(role, redact_pii(text)) for role, text in history  # type: ignore[arg-type]
                 if role in HISTORY_ROLES]
        return build_prompt(redact_pii(question), passages_of(hits[: self.config.passages]),
                            turns, config=self.config.prompt, counter=self.provider.counter)

    def write(self, question: str, hits: Sequence[Hit], history: Sequence[tuple[str, str]],
              sources: dict[str, Source]) -> Answer:
        """The whole answer at once; raises an LLMError (UngroundedAnswer included) on failure."""
        prompt = self._prompt(question, hits, history)
        completion = self._call(lambda deadline: self.provider.complete(prompt.messages, deadline=deadline))
        return self._answer(completion, prompt, sources)

    def write_stream(self, question: str, hits: Sequence[Hit], history: Sequence[tuple[str, str]],
                     sources: dict[str, Source]) -> Generator[str, None, Answer]:
        """Yields text as it is written (markers removed), returns the finished answer."""
        prompt = self._prompt(question, hits, history)
        stream = self._call(lambda deadline: self.provider.stream(prompt.messages, deadline=deadline))
        gate = _CitationGate(len(prompt.passages))
        completion: Completion | None = None
        try:
            for event in stream:
                if isinstance(event, TextDelta):
                    shown = gate.feed(event.text)
                    if shown:
                        yield shown
                elif isinstance(event, StreamDone):
                    completion = event.completion
        except Exception as error:
            self.telemetry.llm_call(_failure_kind(error))
            raise
        finally:
            stream.close()
        assert completion is not None
        answer = self._answer(completion, prompt, sources)
        rest = gate.finish()
        if rest:
            yield rest
        return answer

    def _call(self, call: Callable[[float], T]) -> T:
        """Start a call within the reply's time budget; count a failure by its kind."""
        try:
            return call(time.monotonic() + self.config.timeout)
        except Exception as error:
            self.telemetry.llm_call(_failure_kind(error))
            raise

    def _answer(self, completion: Completion, prompt: GroundedPrompt, sources: dict[str, Source]) -> Answer:
        try:
            grounded = ground(completion.text, prompt.passages)
        except UngroundedAnswer as error:
            self._record(error.kind.value, completion)
            raise
        self._record("ok", completion)
        cited = tuple(sources[i] for i in grounded.source_ids if i in sources)
        return Answer(grounded.text, AnsweredBy.LLM, cited, prompt_tokens=completion.prompt_tokens,
                      completion_tokens=completion.completion_tokens)

    def _record(self, outcome: str, completion: Completion) -> None:
        self.telemetry.llm_call(outcome, latency=completion.latency,
                                first_token=completion.time_to_first_token,
                                prompt_tokens=completion.prompt_tokens,
                                completion_tokens=completion.completion_tokens)


class _CitationGate:
    """Holds streamed text back until its first citation is known valid; then lets it through,
    without markers. An invalid citation at any point raises UngroundedAnswer."""

    def __init__(self, passages: int) -> None:
        self.passages = passages
        self.raw = ""
        self.open = False
        self.stripper = MarkerStripper()
        self.held: list[str] = []

    def feed(self, piece: str) -> str:
        self.raw += piece
        numbers = check_citations(self.raw, self.passages)
        self.held.append(self.stripper.feed(piece))
        if not self.open and (numbers or not self.passages):
            self.open = True
        if not self.open:
            return ""
        shown, self.held = "".join(self.held), []
        return shown

    def finish(self) -> str:
        """What is still held when the answer is complete and grounded."""
        rest = "".join(self.held) + self.stripper.flush()
        self.held = []
        return rest.rstrip()


def _failure_kind(error: BaseException) -> str:
    """An LLMError's kind; "error" for anything else (a bug below, say)."""
    kind = getattr(error, "kind", None)
    return str(kind.value) if kind is not None else "error"
